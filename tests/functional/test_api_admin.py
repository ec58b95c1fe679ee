"""Administration under /api/v3: users, organizations, members, teams, repositories,
collaborators, tokens, runners and job tokens, with every permission failure."""

from __future__ import annotations

from typing import Any

from support.api import Acme, acme, job, pat
from support.registry_app import Registry
from support.ui import PASSWORD, UiClient, cheap_argon2

__all__ = ["cheap_argon2"]


async def call(
    a: Acme, method: str, path: str, headers: dict[str, str], body: Any = None
) -> tuple[int, Any]:
    resp = await a.reg.client.request(method, f"/api/v3{path}", headers=headers, json=body)
    return resp.status, (await resp.json() if resp.status != 204 else None)


async def test_whoami_and_accounts(secured: Registry) -> None:
    a = await acme(secured)
    status, me = await call(a, "GET", "/user", a.alice)
    assert status == 200 and me["login"] == "alice" and me["type"] == "User"
    status, org = await call(a, "GET", "/users/acme", a.bob)
    assert status == 200 and org["type"] == "Organization"
    assert (await call(a, "GET", "/users/nobody", a.bob))[0] == 404
    assert (await call(a, "GET", "/user", {}))[0] == 401
    assert (await call(a, "GET", "/user", job(secured, "acme/shop")))[0] == 403


async def test_site_admin_creates_users_and_orgs(secured: Registry) -> None:
    a = await acme(secured)
    status, made = await call(a, "POST", "/admin/users", a.root, {"login": "dave"})
    assert status == 201 and made["login"] == "dave"
    assert (await call(a, "POST", "/admin/users", a.root, {"login": "dave"}))[0] == 409
    assert (await call(a, "POST", "/admin/users", a.root, {"login": "Bad Name"}))[0] == 400
    assert (await call(a, "POST", "/admin/users", a.root, {"login": 5}))[0] == 400
    status, body = await call(a, "POST", "/admin/users", a.alice, {"login": "eve"})
    assert status == 403 and body["detail"]["needed"] == "site administrator"
    status, made = await call(a, "POST", "/admin/organizations", a.root,
                              {"login": "beta", "admin": "dave"})  # fmt: skip
    assert status == 201 and made["type"] == "Organization"
    assert (await call(a, "POST", "/admin/organizations", a.bob,
                       {"login": "x", "admin": "bob"}))[0] == 403  # fmt: skip
    # A read-only PAT of a site admin changes nothing
    ro = pat(secured, "root", frozenset({"read:packages"}))
    assert (await call(a, "POST", "/admin/users", ro, {"login": "frank"}))[0] == 403


async def test_org_members_teams_repos_collaborators(secured: Registry) -> None:
    a = await acme(secured)
    status, body = await call(a, "PUT", "/orgs/acme/memberships/bob", a.alice, {"role": "member"})
    assert (status, body["role"]) == (200, "member")
    status, members = await call(a, "GET", "/orgs/acme/members", a.alice)
    assert {m["login"] for m in members} == {"alice", "bob", "carol"}
    # a member is not an owner
    assert (await call(a, "PUT", "/orgs/acme/memberships/carol", a.bob,
                       {"role": "admin"}))[0] == 403  # fmt: skip
    assert (await call(a, "PUT", "/orgs/acme/memberships/bob", a.alice,
                       {"role": "boss"}))[0] == 400  # fmt: skip
    status, team = await call(a, "POST", "/orgs/acme/teams", a.alice, {"name": "devs"})
    assert status == 201 and team["slug"] == "devs"
    assert (await call(a, "POST", "/orgs/acme/teams", a.bob, {"name": "x"}))[0] == 403
    status, _ = await call(a, "PUT", "/orgs/acme/teams/devs/memberships/bob", a.alice, {})
    assert status == 200
    status, repo = await call(a, "POST", "/orgs/acme/repos", a.alice, {"name": "web"})
    assert status == 201 and repo["full_name"] == "acme/web" and repo["private"] is True
    assert (await call(a, "POST", "/orgs/acme/repos", a.bob, {"name": "evil"}))[0] == 403
    status, _ = await call(a, "PUT", "/repos/acme/web/collaborators/carol", a.alice,
                           {"permission": "push"})  # fmt: skip
    assert status == 204
    assert (await call(a, "PUT", "/repos/acme/web/collaborators/carol", a.alice,
                       {"permission": "god"}))[0] == 400  # fmt: skip
    assert (await call(a, "PUT", "/repos/acme/web/collaborators/carol", a.bob,
                       {"permission": "admin"}))[0] == 403  # fmt: skip
    status, _ = await call(a, "PUT", "/orgs/acme/teams/devs/repos/acme/web", a.alice,
                           {"permission": "maintain"})  # fmt: skip
    assert status == 204
    status, mine = await call(a, "POST", "/user/repos", a.bob, {"name": "own"})
    assert status == 201 and mine["full_name"] == "bob/own"
    assert (await call(a, "DELETE", "/repos/bob/own", a.alice))[0] == 403
    assert (await call(a, "DELETE", "/repos/bob/own", a.bob))[0] == 204
    assert (await call(a, "DELETE", "/repos/bob/own", a.bob))[0] == 404
    assert (await call(a, "DELETE", "/orgs/acme/memberships/bob", a.alice))[0] == 204
    assert (await call(a, "DELETE", "/orgs/acme/memberships/bob", a.alice))[0] == 404


async def test_tokens_own_and_admin(secured: Registry) -> None:
    a = await acme(secured)
    wanted = {"scopes": ["read:packages"], "expires_in_days": 7, "name": "ci"}
    status, made = await call(a, "POST", "/user/tokens", a.bob, wanted)
    assert status == 201 and made["token"].startswith(made["id"])
    status, mine = await call(a, "GET", "/user/tokens", a.bob)
    assert status == 200 and made["id"] in {t["id"] for t in mine}
    assert all("secret" not in t and "secret_hash" not in t and "token" not in t for t in mine)
    # someone else's token id: not found, not revoked
    assert (await call(a, "DELETE", f"/user/tokens/{made['id']}", a.alice))[0] == 404
    # a PAT cannot mint a wider one
    narrow = {"Authorization": f"token {made['token']}"}
    status, _ = await call(a, "POST", "/user/tokens", narrow, {"scopes": ["write:packages"]})
    assert status == 403
    for bad in ({"scopes": ["admin:org"]}, {"scopes": []}, {"scopes": "read:packages"},
                {"scopes": ["read:packages"], "expires_in_days": 0}):  # fmt: skip
        assert (await call(a, "POST", "/user/tokens", a.bob, bad))[0] == 400, bad
    status, every = await call(a, "GET", "/admin/tokens?user=bob", a.root)
    assert status == 200 and made["id"] in {t["id"] for t in every}
    assert all("secret_hash" not in t for t in every)
    assert (await call(a, "GET", "/admin/tokens", a.alice))[0] == 403
    assert (await call(a, "DELETE", f"/user/tokens/{made['id']}", a.bob))[0] == 204
    assert (await call(a, "GET", "/user", narrow))[0] == 401
    assert (await call(a, "DELETE", f"/admin/tokens/{made['id']}", a.alice))[0] == 403


async def test_runners_and_job_tokens(secured: Registry) -> None:
    a = await acme(secured)
    assert (await call(a, "POST", "/admin/runners", a.alice, {"name": "r1"}))[0] == 403
    status, runner = await call(a, "POST", "/admin/runners", a.root,
                                {"name": "r1", "serves": ["acme"]})  # fmt: skip
    assert status == 201
    rh = {"Authorization": f"Bearer {runner['token']}"}
    status, minted = await call(a, "POST", "/actions/job-tokens", rh,
                                {"repository": "acme/shop", "permissions": {"packages": "read"},
                                 "run_id": "7"})  # fmt: skip
    assert status == 201 and minted["repository"] == "acme/shop"
    # a PAT is not a runner credential
    assert (await call(a, "POST", "/actions/job-tokens", a.root,
                       {"repository": "acme/shop"}))[0] == 401  # fmt: skip
    assert (await call(a, "POST", "/actions/job-tokens", rh, {"repository": 3}))[0] == 400
    assert (await call(a, "DELETE", f"/actions/job-tokens/{minted['id']}", rh))[0] == 204
    assert (await call(a, "DELETE", f"/actions/job-tokens/{minted['id']}", {}))[0] == 401


async def test_unknown_paths_and_methods_are_github_json(secured: Registry) -> None:
    a = await acme(secured)
    status, body = await call(a, "GET", "/nothing/here", a.alice)
    assert status == 404 and body["message"] == "Not Found" and body["documentation_url"]
    status, body = await call(a, "PATCH", "/user", a.alice)
    assert status == 405 and body["message"]
    resp = await secured.client.post(
        "/api/v3/admin/users", data=b"{not json", headers={**a.root, "Content-Type": "x"}
    )
    assert resp.status == 400 and (await resp.json())["message"] == "Problems parsing JSON"


async def test_a_user_created_with_a_password_signs_in_to_the_web_ui(secured: Registry) -> None:
    a = await acme(secured)
    weak = {"login": "fay", "password": "short"}
    status, body = await call(a, "POST", "/admin/users", a.root, weak)
    assert status == 400 and "password" in body["message"]
    # A refused password creates nobody.
    assert (await call(a, "GET", "/users/fay", a.root))[0] == 404
    status, _ = await call(
        a, "POST", "/admin/users", a.root, {"login": "fay", "password": PASSWORD}
    )
    assert status == 201
    ui = UiClient(secured)
    resp = await ui.sign_in("fay")
    status, page = await ui.follow(resp)
    assert status == 200 and "Signed in as" in page and "fay" in page
    assert (await ui.sign_in("fay", "a wrong but long password")).status != 303
