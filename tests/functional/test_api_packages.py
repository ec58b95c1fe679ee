"""GitHub's package endpoints under /api/v3, with every permission failure, on SQLite and
PostgreSQL; soft delete and restore as the OCI API sees them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update

from cargohold.db import schema as s
from cargohold.db.tx import now
from support.api import PKG, Acme, acme, pat
from support.registry_app import Registry, push_image


async def get(a: Acme, path: str, headers: dict[str, str]) -> tuple[int, Any]:
    resp = await a.reg.client.get(path, headers=headers)
    return resp.status, await resp.json()


async def versions(a: Acme, headers: dict[str, str], query: str = "") -> list[dict[str, Any]]:
    status, body = await get(a, f"{PKG}/versions{query}", headers)
    assert status == 200, body
    return list(body)


async def test_list_get_and_shapes(secured: Registry) -> None:
    a = await acme(secured)
    status, body = await get(a, "/api/v3/orgs/acme/packages?package_type=container", a.alice)
    assert status == 200
    [pkg] = body
    assert pkg["name"] == "shop" and pkg["package_type"] == "container"
    assert pkg["owner"]["login"] == "acme" and pkg["owner"]["type"] == "Organization"
    assert pkg["version_count"] == 2 and pkg["visibility"] == "private"
    assert pkg["url"].endswith("/api/v3/orgs/acme/packages/container/shop")
    assert pkg["html_url"].endswith("/orgs/acme/packages/container/package/shop")
    status, one = await get(a, PKG, a.alice)
    assert status == 200 and one["id"] == pkg["id"]
    listed = await versions(a, a.alice)
    assert {v["name"] for v in listed} == {a.v1, a.v2}
    tags = {v["name"]: v["metadata"]["container"]["tags"] for v in listed}
    assert tags == {a.v1: ["v1"], a.v2: ["v2"]}
    assert all(v["metadata"]["package_type"] == "container" for v in listed)
    vid = listed[0]["id"]
    status, version = await get(a, f"{PKG}/versions/{vid}", a.alice)
    assert status == 200 and version["name"] == listed[0]["name"]


async def test_filters_and_required_type(secured: Registry) -> None:
    a = await acme(secured)
    base = "/api/v3/orgs/acme/packages"
    status, body = await get(a, f"{base}?package_type=container&visibility=public", a.alice)
    assert (status, body) == (200, [])
    status, body = await get(a, f"{base}?package_type=npm", a.alice)
    assert (status, body) == (200, [])
    status, body = await get(a, base, a.alice)
    assert status == 400 and "package_type" in body["message"]
    status, body = await get(a, f"{base}?package_type=container&visibility=secret", a.alice)
    assert status == 400
    # A user's namespace under /orgs/ (and the other way round) is not found.
    status, _ = await get(a, "/api/v3/orgs/alice/packages?package_type=container", a.alice)
    assert status == 200  # alice owns no packages: an empty list either way
    status, _ = await get(a, "/api/v3/users/acme/packages/container/shop", a.alice)
    assert status == 404


async def test_pagination_links(secured: Registry) -> None:
    a = await acme(secured)
    await push_image(secured.client, "acme/shop", "v3", seed=b"z", headers=a.alice_basic)
    resp = await secured.client.get(f"{PKG}/versions?per_page=2", headers=a.alice)
    assert resp.status == 200 and len(await resp.json()) == 2
    link = resp.headers["Link"]
    assert 'rel="next"' in link and "page=2" in link and 'rel="last"' in link
    resp2 = await secured.client.get(f"{PKG}/versions?per_page=2&page=2", headers=a.alice)
    second = await resp2.json()
    assert len(second) == 1 and 'rel="prev"' in resp2.headers["Link"]
    assert 'rel="next"' not in resp2.headers["Link"]
    for bad in ("per_page=0", "per_page=101", "page=0", "page=x"):
        resp = await secured.client.get(f"{PKG}/versions?{bad}", headers=a.alice)
        assert resp.status == 400, bad


async def test_user_and_authenticated_user_namespaces(secured: Registry) -> None:
    a = await acme(secured)
    await push_image(secured.client, "alice/tool", "1", headers=a.alice_basic)
    status, body = await get(a, "/api/v3/user/packages?package_type=container", a.alice)
    assert status == 200 and [p["name"] for p in body] == ["tool"]
    assert body[0]["owner"]["type"] == "User"
    status, body = await get(a, "/api/v3/users/alice/packages?package_type=container", a.alice)
    assert [p["name"] for p in body] == ["tool"]
    status, body = await get(a, "/api/v3/users/alice/packages/container/tool/versions", a.alice)
    assert status == 200 and len(body) == 1
    # bob cannot read alice's private package: the list hides it, a GET is 404
    status, body = await get(a, "/api/v3/users/alice/packages?package_type=container", a.bob)
    assert (status, body) == (200, [])
    status, _ = await get(a, "/api/v3/users/alice/packages/container/tool", a.bob)
    assert status == 404
    status, body = await get(a, "/api/v3/user/packages?package_type=container", {})
    assert status == 401


async def test_reads_need_read_and_hide_existence(secured: Registry) -> None:
    a = await acme(secured)
    for path in (PKG, f"{PKG}/versions", "/api/v3/orgs/acme/packages/container/missing"):
        for who in (a.bob, {}):
            status, body = await get(a, path, who)
            assert status == 404, (path, who)
            assert body["message"] and body["documentation_url"]
    status, body = await get(a, "/api/v3/orgs/acme/packages?package_type=container", a.bob)
    assert (status, body) == (200, [])
    # An org member reads nothing of a private package without a role either.
    status, _ = await get(a, PKG, a.carol)
    assert status == 404


async def test_bad_credentials(secured: Registry) -> None:
    a = await acme(secured)
    for header in ("token nope", "Bearer chp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "token "):
        status, body = await get(a, PKG, {"Authorization": header})
        assert status == 401 and body["message"] == "Bad credentials"


async def test_delete_and_restore_a_version(secured: Registry) -> None:
    a = await acme(secured)
    c = secured.client
    [v2] = [v for v in await versions(a, a.alice) if v["name"] == a.v2]
    resp = await c.delete(f"{PKG}/versions/{v2['id']}", headers=a.alice)
    assert resp.status == 204
    # Neither pullable (by tag or digest) nor listed, anywhere.
    pulled = await c.get("/v2/acme/shop/manifests/v2", headers=a.alice_basic)
    assert pulled.status == 404 and (await pulled.json())["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    pulled = await c.head(f"/v2/acme/shop/manifests/{a.v2}", headers=a.alice_basic)
    assert pulled.status == 404
    tags = await (await c.get("/v2/acme/shop/tags/list", headers=a.alice_basic)).json()
    assert tags["tags"] == ["v1"]
    assert [v["name"] for v in await versions(a, a.alice)] == [a.v1]
    deleted = await versions(a, a.alice, "?state=deleted")
    assert [v["name"] for v in deleted] == [a.v2] and deleted[0]["deleted_at"]
    assert deleted[0]["metadata"]["container"]["tags"] == ["v2"]
    body = (await get(a, PKG, a.alice))[1]
    assert body["version_count"] == 1
    # Deleting again: it is gone already.
    resp = await c.delete(f"{PKG}/versions/{v2['id']}", headers=a.alice)
    assert resp.status == 404
    resp = await c.post(f"{PKG}/versions/{v2['id']}/restore", headers=a.alice)
    assert resp.status == 204
    pulled = await c.get("/v2/acme/shop/manifests/v2", headers=a.alice_basic)
    assert pulled.status == 200 and pulled.headers["Docker-Content-Digest"] == a.v2
    resp = await c.post(f"{PKG}/versions/{v2['id']}/restore", headers=a.alice)
    assert resp.status == 404  # not deleted any more


async def test_restore_window_over(secured: Registry) -> None:
    a = await acme(secured)
    c = secured.client
    [v1] = [v for v in await versions(a, a.alice) if v["name"] == a.v1]
    assert (await c.delete(f"{PKG}/versions/{v1['id']}", headers=a.alice)).status == 204
    window = secured.services.lifecycle.restore_window
    secured.db(
        lambda conn: conn.execute(
            update(s.manifests)
            .where(s.manifests.c.digest == a.v1)
            .values(deleted_at=now() - window - timedelta(minutes=1))
        )
    )
    resp = await c.post(f"{PKG}/versions/{v1['id']}/restore", headers=a.alice)
    assert resp.status == 409 and "restored only until" in (await resp.json())["message"]


async def test_delete_and_restore_a_package(secured: Registry) -> None:
    a = await acme(secured)
    c = secured.client
    assert (await c.delete(PKG, headers=a.alice)).status == 204
    assert (await c.get("/v2/acme/shop/manifests/v1", headers=a.alice_basic)).status == 404
    assert (await c.get("/v2/acme/shop/tags/list", headers=a.alice_basic)).status == 404
    catalog = await (await c.get("/v2/_catalog", headers=a.alice_basic)).json()
    assert "acme/shop" not in catalog["repositories"]
    status, body = await get(a, "/api/v3/orgs/acme/packages?package_type=container", a.alice)
    assert (status, body) == (200, [])
    assert (await get(a, PKG, a.alice))[0] == 404
    # The name is reserved: a push says the package can be restored.
    resp = await c.put(
        "/v2/acme/shop/manifests/v9",
        data=b"{}",
        headers={**a.alice_basic, "Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    )
    if resp.status != 400:  # (a bad manifest may be refused first)
        assert resp.status == 403
    start = await c.post("/v2/acme/shop/blobs/uploads/", headers=a.alice_basic)
    assert start.status == 403
    message = (await start.json())["errors"][0]["message"]
    assert "reserved" in message and "restore" in message
    # bob, who cannot read it, learns nothing from a restore attempt
    assert (await c.post(f"{PKG}/restore", headers=a.bob)).status == 404
    assert (await c.post(f"{PKG}/restore", headers=a.alice)).status == 204
    assert (await c.get("/v2/acme/shop/manifests/v1", headers=a.alice_basic)).status == 200
    status, body = await get(a, PKG, a.alice)
    assert status == 200 and body["version_count"] == 2


async def test_delete_needs_admin_and_the_delete_scope(secured: Registry) -> None:
    a = await acme(secured)
    c = secured.client
    # carol can read (granted read) but not delete: 403 with the explanation
    await c.put(f"{PKG}/access/users/carol", json={"role": "write"}, headers=a.alice)
    [v] = (await versions(a, a.carol))[:1]
    for method, path in (
        ("DELETE", PKG),
        ("DELETE", f"{PKG}/versions/{v['id']}"),
        ("POST", f"{PKG}/versions/{v['id']}/restore"),
        ("POST", f"{PKG}/restore"),
    ):
        resp = await c.request(method, path, headers=a.carol)
        body = await resp.json()
        assert resp.status == 403, (method, path, body)
        assert body["code"] == "DENIED" and body["detail"]
    # bob cannot read: 404 for the same calls
    for method, path in (("DELETE", PKG), ("DELETE", f"{PKG}/versions/{v['id']}")):
        assert (await c.request(method, path, headers=a.bob)).status == 404
    # alice's PAT without delete:packages: denied, and it says why
    weak = pat(secured, "alice", frozenset({"read:packages", "write:packages"}))
    resp = await c.delete(f"{PKG}/versions/{v['id']}", headers=weak)
    assert resp.status == 403 and "delete" in (await resp.json())["message"]


async def test_version_ids_do_not_cross_packages(secured: Registry) -> None:
    a = await acme(secured)
    await push_image(secured.client, "acme/other", "x", seed=b"q", headers=a.alice_basic)
    other = "/api/v3/orgs/acme/packages/container/other"
    [theirs] = (await get(a, f"{other}/versions", a.alice))[1]
    status, _ = await get(a, f"{PKG}/versions/{theirs['id']}", a.alice)
    assert status == 404
    resp = await secured.client.delete(f"{PKG}/versions/{theirs['id']}", headers=a.alice)
    assert resp.status == 404
    for bad in ("abc", "-1", "99999999999999999999"):
        status, _ = await get(a, f"{PKG}/versions/{bad}", a.alice)
        assert status == 404


async def test_oci_delete_is_a_soft_delete(secured: Registry) -> None:
    a = await acme(secured)
    c = secured.client
    resp = await c.delete(f"/v2/acme/shop/manifests/{a.v1}", headers=a.alice_basic)
    assert resp.status == 202
    deleted = await versions(a, a.alice, "?state=deleted")
    assert [v["name"] for v in deleted] == [a.v1]
    # pushing the same content again makes it live again
    await push_image(c, "acme/shop", "again", headers=a.alice_basic)
    assert await versions(a, a.alice, "?state=deleted") == []


async def test_index_child_cannot_be_deleted_while_listed(secured: Registry) -> None:
    import json

    a = await acme(secured)
    c = secured.client
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": a.v1,
                    "size": len(await (await c.get(f"/v2/acme/shop/manifests/{a.v1}",
                                                   headers=a.alice_basic)).read()),
                }
            ],
        }
    ).encode()  # fmt: skip
    put = await c.put(
        "/v2/acme/shop/manifests/multi",
        data=index,
        headers={**a.alice_basic, "Content-Type": "application/vnd.oci.image.index.v1+json"},
    )
    assert put.status == 201
    index_digest = put.headers["Docker-Content-Digest"]
    ids = {v["name"]: v["id"] for v in await versions(a, a.alice)}
    resp = await c.delete(f"{PKG}/versions/{ids[a.v1]}", headers=a.alice)
    assert resp.status == 409 and "index" in (await resp.json())["message"]
    assert (await c.delete(f"{PKG}/versions/{ids[index_digest]}", headers=a.alice)).status == 204
    assert (await c.delete(f"{PKG}/versions/{ids[a.v1]}", headers=a.alice)).status == 204
    # restoring the index brings back the child it lists
    assert (
        await c.post(f"{PKG}/versions/{ids[index_digest]}/restore", headers=a.alice)
    ).status == 204
    names = {v["name"] for v in await versions(a, a.alice)}
    assert {index_digest, a.v1} <= names


async def test_nested_package_names_are_url_encoded(secured: Registry) -> None:
    a = await acme(secured)
    await push_image(secured.client, "acme/tools/cli", "1", headers=a.alice_basic)
    status, body = await get(a, "/api/v3/orgs/acme/packages?package_type=container", a.alice)
    nested = next(p for p in body if p["name"] == "tools/cli")
    assert nested["url"].endswith("/packages/container/tools%2Fcli")
    status, versions = await get(a, "/api/v3/orgs/acme/packages/container/tools%2Fcli/versions",
                                 a.alice)  # fmt: skip
    assert status == 200 and versions[0]["metadata"]["container"]["tags"] == ["1"]
