"""What a hostile caller tries against the REST API: probing for private packages, other
users' ids, a PAT without scopes, a job token reaching for settings, version ids of another
package, a registry bearer token used as an API token."""

from __future__ import annotations

import base64
import json
from typing import Any

from support.api import PKG, acme, job, pat
from support.registry_app import Registry, push_image

SETTINGS_CALLS: list[tuple[str, str, Any]] = [
    ("PUT", "/visibility", {"visibility": "public"}),
    ("PUT", "/link", {"repository": "acme/shop"}),
    ("PUT", "/inheritance", {"inherit": True}),
    ("PUT", "/access/users/bob", {"role": "admin"}),
    ("POST", "/actions-access", {"repository": "acme/api", "role": "admin"}),
    ("DELETE", "", None),
    ("POST", "/restore", None),
]


async def _raw(reg: Registry, method: str, path: str, headers: dict[str, str],
               body: Any = None) -> tuple[int, bytes]:  # fmt: skip
    resp = await reg.client.request(method, path, headers=headers, json=body)
    return resp.status, await resp.read()


async def test_existing_and_missing_private_packages_answer_alike(secured: Registry) -> None:
    a = await acme(secured)
    missing = "/api/v3/orgs/acme/packages/container/nothere"
    for suffix in ("", "/versions", "/versions/1", "/settings", "/why?user=bob", "/audit"):
        for who in (a.bob, {}):
            got = await _raw(secured, "GET", PKG + suffix, who)
            other = await _raw(secured, "GET", missing + suffix, who)
            # Same status and the same body but for the name itself.
            assert got[0] == other[0] == 404, suffix
            assert got[1].replace(b"shop", b"X") == other[1].replace(b"nothere", b"X"), suffix
    for method, suffix, body in SETTINGS_CALLS:
        got = await _raw(secured, method, PKG + suffix, a.bob, body)
        other = await _raw(secured, method, missing + suffix, a.bob, body)
        assert got[0] == other[0] == 404, (method, suffix)


async def test_a_pat_without_scopes_reads_and_changes_nothing(secured: Registry) -> None:
    await acme(secured)
    bare = pat(secured, "alice", frozenset())
    assert (await _raw(secured, "GET", PKG, bare))[0] == 404
    status, body = await _raw(secured, "GET", "/api/v3/orgs/acme/packages?package_type=container",
                              bare)  # fmt: skip
    assert (status, body) == (200, b"[]")
    for method, suffix, payload in SETTINGS_CALLS:
        assert (await _raw(secured, method, PKG + suffix, bare, payload))[0] == 404
    # nor administration, nor a wider token
    assert (await _raw(secured, "POST", "/api/v3/orgs/acme/repos", bare, {"name": "x"}))[0] == 403
    status, _ = await _raw(secured, "POST", "/api/v3/user/tokens", bare,
                           {"scopes": ["read:packages"]})  # fmt: skip
    assert status == 403


async def test_a_job_token_reaches_settings_only_through_admin(secured: Registry) -> None:
    """A job acts as its repository: with write in Actions access it pushes, but settings
    need admin (permissions.md: delete and settings -> admin), so it is refused with the
    explanation. Administration (accounts, tokens) is for people only, whatever the role."""
    a = await acme(secured)
    token = job(secured, "acme/api", "write")
    resp = await secured.client.post(
        f"{PKG}/actions-access", json={"repository": "acme/api", "role": "write"}, headers=a.alice
    )
    assert resp.status == 201
    assert (await _raw(secured, "GET", PKG, token))[0] == 200  # it may read it
    for method, suffix, body in SETTINGS_CALLS:
        status, got = await _raw(secured, method, PKG + suffix, token, body)
        assert status == 403, (method, suffix, got)
        assert b"admin" in got
    for method, path, body in (
        ("POST", "/api/v3/admin/users", {"login": "x"}),
        ("POST", "/api/v3/user/tokens", {"scopes": ["read:packages"]}),
        ("PUT", "/api/v3/orgs/acme/memberships/bob", {"role": "admin"}),
        ("POST", "/api/v3/orgs/acme/repos", {"name": "x"}),
        ("GET", "/api/v3/user/tokens", None),
    ):
        assert (await _raw(secured, method, path, token, body))[0] == 403, path
    # a job token of a repository without any role sees nothing at all
    other = job(secured, "acme/shop", "write")
    assert (await _raw(secured, "PUT", PKG + "/visibility", other, {"visibility": "public"}))[
        0
    ] == 404


async def test_version_ids_of_another_package_find_nothing(secured: Registry) -> None:
    a = await acme(secured)
    # bob's own package, and a version id of alice's private one
    status, body = await _raw(secured, "GET", f"{PKG}/versions", a.alice)
    alice_versions = json.loads(body)
    from support.api import token_header

    bob_basic: dict[str, str] = {"Authorization": "Basic " + base64.b64encode(
        f"bob:{a.bob['Authorization'].split()[1]}".encode()).decode()}  # fmt: skip
    await push_image(secured.client, "bob/app", "1", seed=b"b", headers=bob_basic)
    assert token_header(bob_basic) == a.bob
    theirs = alice_versions[0]["id"]
    mine = "/api/v3/users/bob/packages/container/app/versions"
    for method, suffix in (("GET", ""), ("DELETE", ""), ("POST", "/restore")):
        status, _ = await _raw(secured, method, f"{mine}/{theirs}{suffix}", a.bob)
        assert status == 404, (method, suffix)
    # alice's version is still there
    status, body = await _raw(secured, "GET", f"{PKG}/versions/{theirs}", a.alice)
    assert status == 200
    assert status == 200 and b"deleted_at" not in body


async def test_other_users_token_ids(secured: Registry) -> None:
    a = await acme(secured)
    status, body = await _raw(secured, "POST", "/api/v3/user/tokens", a.alice,
                              {"scopes": ["read:packages"]})  # fmt: skip
    made = json.loads(body)
    assert status == 201
    # bob cannot revoke it, nor list it, nor see anyone's tokens
    assert (await _raw(secured, "DELETE", f"/api/v3/user/tokens/{made['id']}", a.bob))[0] == 404
    status, mine = await _raw(secured, "GET", "/api/v3/user/tokens", a.bob)
    assert made["id"].encode() not in mine
    assert (await _raw(secured, "GET", "/api/v3/admin/tokens", a.bob))[0] == 403
    assert (await _raw(secured, "DELETE", f"/api/v3/admin/tokens/{made['id']}", a.bob))[0] == 403
    still = {"Authorization": f"token {made['token']}"}
    assert (await _raw(secured, "GET", "/api/v3/user", still))[0] == 200
    # an admin sees the metadata, never the secret
    status, listed = await _raw(secured, "GET", "/api/v3/admin/tokens?user=alice", a.root)
    assert status == 200 and made["token"].encode() not in listed


async def test_a_registry_bearer_token_is_not_an_api_token(secured: Registry) -> None:
    a = await acme(secured)
    resp = await secured.client.get(
        "/token?service=127.0.0.1:5000&scope=repository:acme/shop:pull,push,delete",
        headers=a.alice_basic,
    )
    assert resp.status == 200
    jwt = (await resp.json())["token"]
    for header in (f"Bearer {jwt}", f"token {jwt}"):
        status, _ = await _raw(secured, "DELETE", PKG, {"Authorization": header})
        assert status == 401
    assert (await _raw(secured, "GET", PKG, a.alice))[0] == 200
