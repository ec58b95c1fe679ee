"""Package settings, effective access and the audit log under /api/v3 (what GitHub has no API
for), with every permission failure, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from support.api import PKG, Acme, acme, job
from support.registry_app import Registry, push_image


async def call(
    a: Acme, method: str, path: str, headers: dict[str, str], body: Any = None
) -> tuple[int, Any]:
    resp = await a.reg.client.request(method, path, headers=headers, json=body)
    return resp.status, await resp.json()


async def test_settings_round_trip(secured: Registry) -> None:
    a = await acme(secured)
    status, body = await call(a, "GET", f"{PKG}/settings", a.alice)
    assert status == 200 and body["name"] == "acme/shop" and body["visibility"] == "private"
    status, body = await call(a, "PUT", f"{PKG}/visibility", a.alice, {"visibility": "internal"})
    assert (status, body["visibility"]) == (200, "internal")
    status, body = await call(a, "PUT", f"{PKG}/link", a.alice, {"repository": "acme/shop"})
    assert (status, body["linked_repository"]) == (200, "acme/shop")
    status, body = await call(a, "PUT", f"{PKG}/inheritance", a.alice, {"inherit": True})
    assert (status, body["inherit"]) == (200, True)
    status, body = await call(a, "DELETE", f"{PKG}/link", a.alice)
    assert (status, body["linked_repository"]) == (200, None)


async def test_manage_access_users_and_teams(secured: Registry) -> None:
    a = await acme(secured)
    await call(a, "POST", "/api/v3/orgs/acme/teams", a.alice, {"name": "devs"})
    status, body = await call(a, "PUT", f"{PKG}/access/users/bob", a.alice, {"role": "read"})
    assert status == 200 and {"user": "bob", "role": "read"} in body["access"]
    status, body = await call(a, "PUT", f"{PKG}/access/teams/devs", a.alice, {"role": "write"})
    assert status == 200 and {"team": "acme/devs", "role": "write"} in body["access"]
    status, listed = await call(a, "GET", f"{PKG}/access", a.alice)
    assert status == 200 and len(listed) == 2
    # bob can now read the package, but not change its settings
    assert (await call(a, "GET", PKG, a.bob))[0] == 200
    status, body = await call(a, "PUT", f"{PKG}/visibility", a.bob, {"visibility": "public"})
    assert status == 403 and body["code"] == "DENIED"
    assert body["documentation_url"] and body["detail"]
    status, body = await call(a, "DELETE", f"{PKG}/access/users/bob", a.alice)
    assert status == 200 and all(g.get("user") != "bob" for g in body["access"])
    assert (await call(a, "GET", PKG, a.bob))[0] == 404
    status, body = await call(a, "DELETE", f"{PKG}/access/teams/devs", a.alice)
    assert status == 200 and body["access"] == []
    status, body = await call(a, "PUT", f"{PKG}/access/users/bob", a.alice, {"role": "owner"})
    assert status == 400


async def test_actions_access_lets_a_job_push(secured: Registry) -> None:
    a = await acme(secured)
    jobtok = job(secured, "acme/api")
    basic_job = {"Authorization": jobtok["Authorization"].replace("token ", "Bearer ")}
    denied = await secured.client.post("/v2/acme/shop/blobs/uploads/", headers=basic_job)
    assert denied.status in (401, 403)
    status, body = await call(
        a, "POST", f"{PKG}/actions-access", a.alice, {"repository": "acme/api", "role": "read"}
    )
    assert status == 201 and body["actions_access"][0]["role"] == "read"
    status, body = await call(
        a, "PUT", f"{PKG}/actions-access/acme/api", a.alice, {"role": "write"}
    )
    assert status == 200 and body["actions_access"][0]["role"] == "write"
    status, listed = await call(a, "GET", f"{PKG}/actions-access", a.alice)
    assert listed == [{"repository": "acme/api", "repository_id": listed[0]["repository_id"],
                       "role": "write"}]  # fmt: skip
    import base64

    secret = jobtok["Authorization"].split()[1]
    job_basic = {"Authorization": "Basic " + base64.b64encode(f"x:{secret}".encode()).decode()}
    await push_image(secured.client, "acme/shop", "from-ci", seed=b"c", headers=job_basic)
    status, body = await call(a, "DELETE", f"{PKG}/actions-access/acme/api", a.alice)
    assert status == 200 and body["actions_access"] == []
    status, body = await call(a, "POST", f"{PKG}/actions-access", a.alice, {"repository": "x"})
    assert status == 400


async def test_settings_need_admin_and_hide_existence(secured: Registry) -> None:
    a = await acme(secured)
    changes = [
        ("GET", f"{PKG}/settings", None),
        ("PUT", f"{PKG}/visibility", {"visibility": "public"}),
        ("PUT", f"{PKG}/link", {"repository": "acme/shop"}),
        ("DELETE", f"{PKG}/link", None),
        ("PUT", f"{PKG}/inheritance", {"inherit": True}),
        ("GET", f"{PKG}/access", None),
        ("PUT", f"{PKG}/access/users/bob", {"role": "admin"}),
        ("DELETE", f"{PKG}/access/users/bob", None),
        ("GET", f"{PKG}/actions-access", None),
        ("POST", f"{PKG}/actions-access", {"repository": "acme/api", "role": "admin"}),
        ("PUT", f"{PKG}/actions-access/acme/api", {"role": "admin"}),
        ("DELETE", f"{PKG}/actions-access/acme/api", None),
        ("GET", f"{PKG}/why?user=bob", None),
        ("GET", f"{PKG}/audit", None),
    ]
    missing = "/api/v3/orgs/acme/packages/container/nothing"
    for method, path, body in changes:
        # bob cannot read: 404, exactly as for a package that does not exist
        status, got = await call(a, method, path, a.bob, body)
        assert status == 404, (method, path, got)
        status, _ = await call(a, method, path.replace(PKG, missing), a.bob, body)
        assert status == 404
        # anonymous: the same
        assert (await call(a, method, path, {}, body))[0] == 404
    await call(a, "PUT", f"{PKG}/access/users/carol", a.alice, {"role": "write"})
    for method, path, body in changes:
        status, got = await call(a, method, path, a.carol, body)
        assert status == 403, (method, path, got)
        assert "admin" in got["message"] and got["detail"]
    # a job token (even one whose repository is admin) never reaches settings it lacks
    jobtok = job(secured, "acme/api", "write")
    status, _ = await call(a, "PUT", f"{PKG}/visibility", jobtok, {"visibility": "public"})
    assert status in (403, 404)


async def test_why_and_audit(secured: Registry) -> None:
    a = await acme(secured)
    status, body = await call(a, "GET", f"{PKG}/why?user=alice", a.alice)
    assert status == 200 and body["role"] == "admin" and body["sources"]
    status, body = await call(a, "GET", f"{PKG}/why?repository=acme/api", a.alice)
    assert status == 200 and body["role"] == "none"
    status, _ = await call(a, "GET", f"{PKG}/why", a.alice)
    assert status == 400
    await secured.client.get(f"{PKG}/versions", headers=a.bob)  # a denied read
    secured.services.audit_buffer.flush()  # type: ignore[union-attr]
    status, entries = await call(a, "GET", f"{PKG}/audit?decision=denied", a.alice)
    assert status == 200 and entries and all(e["result"] == "denied" for e in entries)
    assert any(e["actor"] == "user bob" for e in entries)
    status, entries = await call(a, "GET", f"{PKG}/audit?actor=user%20bob&per_page=1", a.alice)
    assert status == 200 and len(entries) == 1
    status, entries = await call(a, "GET", f"{PKG}/audit?since=2999-01-01T00:00:00Z", a.alice)
    assert (status, entries) == (200, [])
    for bad in ("decision=maybe", "since=yesterday", "since=2020-01-01T00:00:00", "per_page=0"):
        assert (await call(a, "GET", f"{PKG}/audit?{bad}", a.alice))[0] == 400, bad
    # the whole audit log: site administrators only
    assert (await call(a, "GET", "/api/v3/audit", a.alice))[0] == 403
    status, entries = await call(a, "GET", "/api/v3/audit?package=acme/shop", a.root)
    assert status == 200 and entries


async def test_org_package_settings(secured: Registry) -> None:
    a = await acme(secured)
    path = "/api/v3/orgs/acme/package-settings"
    status, body = await call(a, "GET", path, a.alice)
    assert status == 200 and body["default_visibility"] == "private"
    status, body = await call(
        a,
        "PATCH",
        path,
        a.alice,
        {"default_visibility": "internal", "member_create_visibilities": ["private"]},
    )
    assert status == 200 and body["default_visibility"] == "internal"
    assert body["member_create_visibilities"] == ["private"]
    assert (await call(a, "PATCH", path, a.alice, {"default_visibility": "x"}))[0] == 400
    assert (await call(a, "PATCH", path, a.carol, {"inherit_default": False}))[0] == 403
    assert (await call(a, "GET", path, a.alice))[1]["inherit_default"] is True  # unchanged
    # alice administers her own namespace, but it is a user's: it has no organization settings
    user_path = "/api/v3/orgs/alice/package-settings"
    assert (await call(a, "PATCH", user_path, a.alice, {"inherit_default": False}))[0] == 404
    assert (await call(a, "GET", path, a.bob))[0] == 403
    assert (await call(a, "GET", path, {}))[0] == 401
