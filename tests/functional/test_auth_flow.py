"""Authentication and authorization through the HTTP API (auth on), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from cargohold.accounts import credentials, jobs, service
from cargohold.authz.model import OrgRole, Role, Visibility
from cargohold.registry import package_settings
from support.registry_app import Registry, basic, push_image


async def errors(resp: Any) -> dict[str, Any]:
    body = await resp.json()
    return dict(body["errors"][0])


def setup_acme(reg: Registry) -> dict[str, str]:
    alice = reg.user("alice")

    def org(conn: Any) -> None:
        service.create_org(conn, "acme", "alice")
        service.create_repo(conn, "acme/shop")
        service.create_repo(conn, "acme/api")

    reg.db(org)
    return alice


def job_token(
    reg: Registry, repo: str, perms: dict[str, str] | None, run_id: str = "42"
) -> dict[str, str]:
    keys = reg.services.keys
    made = reg.db(
        lambda c: jobs.mint(
            c, keys, repo, perms, timedelta(hours=1), max_ttl=timedelta(hours=24), run_id=run_id
        )
    )
    return basic("x-access-token", str(made["token"]))


def grant_actions(reg: Registry, role: str) -> None:
    reg.db(
        lambda conn: package_settings.add_actions_access(
            conn, "acme/shop", "acme/shop", Role.parse(role)
        )
    )


async def test_challenge_and_token_flow(secured: Registry) -> None:
    c = secured.client
    alice = setup_acme(secured)
    base = await c.get("/v2/")
    assert base.status == 401
    challenge = base.headers["WWW-Authenticate"]
    assert challenge.startswith(
        'Bearer realm="http://127.0.0.1:5000/token",service="127.0.0.1:5000"'
    )
    tok = await c.get(
        "/token?service=127.0.0.1:5000&scope=repository:acme/shop:pull,push", headers=alice
    )
    assert tok.status == 200
    body = await tok.json()
    assert set(body) >= {"token", "access_token", "expires_in", "issued_at"}
    bearer = {"Authorization": f"Bearer {body['token']}"}
    assert (await c.get("/v2/", headers=bearer)).status == 200
    await push_image(c, "acme/shop", "v1", headers=bearer)
    # The bearer covers acme/shop only: another repository asks for a new token.
    other = await c.get("/v2/acme/api/tags/list", headers=bearer)
    assert other.status == 401
    assert 'error="insufficient_scope"' in other.headers["WWW-Authenticate"]
    assert 'scope="repository:acme/api:pull"' in other.headers["WWW-Authenticate"]
    bad = await c.get("/token?service=x", headers=basic("alice", "chp_" + "A" * 40))
    assert bad.status == 401
    assert (await errors(bad))["message"].startswith(
        "unauthenticated: User cannot be authenticated with the token provided."
    )
    anon = await c.get("/token?service=x&scope=repository:acme/shop:pull")
    assert anon.status == 200


async def test_scenario_write_package_then_actions_access(secured: Registry) -> None:
    c = secured.client
    alice = setup_acme(secured)
    await push_image(c, "acme/shop", "v0.0.9", headers=alice)
    job = job_token(secured, "acme/shop", {"packages": "write", "contents": "read"})
    denied = await c.post("/v2/acme/shop/blobs/uploads/", headers=job)
    assert denied.status == 403
    err = await errors(denied)
    assert err["code"] == "DENIED"
    assert err["message"].startswith("permission_denied: write_package")
    assert "repository acme/shop" in err["message"]
    assert (
        "cargohold package actions-access add acme/shop --repository acme/shop --role write"
        in err["message"]
    )
    assert err["detail"]["gate"] == "role"
    assert err["detail"]["needed"] == "write"
    tags = await (await c.get("/v2/acme/shop/tags/list", headers=alice)).json()
    assert tags["tags"] == ["v0.0.9"]
    secured.db(
        lambda conn: package_settings.add_actions_access(conn, "acme/shop", "acme/shop", Role.WRITE)
    )
    await push_image(c, "acme/shop", "v0.0.10", headers=job, seed=b"2")
    # Token gate: a job without packages: write.
    reader = job_token(secured, "acme/shop", {"contents": "read"})
    no_write = await c.post("/v2/acme/shop/blobs/uploads/", headers=reader)
    assert (await errors(no_write))["message"].startswith(
        "installation not allowed to Write organization package"
    )


async def test_anonymous_private_then_public(secured: Registry) -> None:
    c = secured.client
    alice = setup_acme(secured)
    await push_image(c, "acme/shop", "v1", headers=alice)
    anon = await c.get("/v2/acme/shop/manifests/v1")
    assert anon.status == 401
    assert (await errors(anon))["message"].startswith("authentication required")
    assert 'scope="repository:acme/shop:pull"' in anon.headers["WWW-Authenticate"]
    missing = await c.get("/v2/acme/nothing/manifests/v1")
    assert missing.status == 401  # existence does not leak
    secured.db(lambda conn: package_settings.set_visibility(conn, "acme/shop", Visibility.PUBLIC))
    assert (await c.get("/v2/acme/shop/manifests/v1")).status == 200


async def test_outsider_sees_missing_like_private(secured: Registry) -> None:
    c = secured.client
    alice = setup_acme(secured)
    bob = secured.user("bob")
    await push_image(c, "acme/shop", "v1", headers=alice)
    private = await c.get("/v2/acme/shop/manifests/v1", headers=bob)
    missing = await c.get("/v2/acme/ghost/manifests/v1", headers=bob)
    assert private.status == missing.status == 403
    p, m = await errors(private), await errors(missing)
    assert p["message"].replace("shop", "X") == m["message"].replace("ghost", "X")


async def test_grant_and_revocation_take_effect_at_once(secured: Registry) -> None:
    c = secured.client
    alice = setup_acme(secured)
    bob = secured.user("bob")
    await push_image(c, "acme/shop", "v1", headers=alice)
    assert (await c.get("/v2/acme/shop/manifests/v1", headers=bob)).status == 403
    secured.db(lambda conn: package_settings.grant(conn, "acme/shop", Role.READ, user="bob"))
    assert (await c.get("/v2/acme/shop/manifests/v1", headers=bob)).status == 200
    denied_push = await c.post("/v2/acme/shop/blobs/uploads/", headers=bob)
    assert (await errors(denied_push))["message"].startswith("permission_denied: write_package")
    tok = await (await c.get("/token?scope=repository:acme/shop:pull", headers=bob)).json()
    bearer = {"Authorization": f"Bearer {tok['token']}"}
    assert (await c.get("/v2/acme/shop/manifests/v1", headers=bearer)).status == 200
    bob_secret = bob["Authorization"]
    sql = "SELECT c.id FROM credentials c JOIN accounts a ON a.id = c.user_id WHERE a.login='bob'"
    cred_ids = secured.db(lambda conn: [r[0] for r in conn.exec_driver_sql(sql)])
    secured.db(lambda conn: credentials.revoke(conn, cred_ids[0]))
    after = await c.get("/v2/acme/shop/manifests/v1", headers=bearer)
    assert after.status == 401
    assert (await errors(after))["message"].startswith(
        "unauthenticated: User cannot be authenticated with the token provided."
    )
    assert "revoked" in (await errors(after))["message"]
    assert bob_secret


async def test_pat_scopes_narrow(secured: Registry) -> None:
    c = secured.client
    setup_acme(secured)
    carol = secured.user("carol", scopes=frozenset({"read:packages"}))
    secured.db(lambda conn: service.add_member(conn, "acme", "carol", OrgRole.OWNER))
    resp = await c.post("/v2/acme/shop/blobs/uploads/", headers=carol)
    assert resp.status == 403
    assert (await errors(resp))["message"].startswith(
        "permission_denied: The token provided does not match expected scopes."
    )


async def test_package_created_by_job_is_linked(secured: Registry) -> None:
    c = secured.client
    setup_acme(secured)
    job = job_token(secured, "acme/api", {"packages": "write"})
    await push_image(c, "acme/api", "v1", headers=job)
    shown = secured.db(lambda conn: package_settings.describe(conn, "acme/api").as_dict())
    assert shown["linked_repository"] == "acme/api"
    assert shown["inherit"] is True
    assert shown["actions_access"][0]["role"] == "admin"


async def test_recreated_repository_is_denied_with_explanation(secured: Registry) -> None:
    c = secured.client
    alice = setup_acme(secured)
    await push_image(c, "acme/shop", "v1", headers=alice)
    secured.db(
        lambda conn: package_settings.add_actions_access(conn, "acme/shop", "acme/shop", Role.WRITE)
    )
    secured.db(lambda conn: service.delete_repo(conn, "acme/shop"))
    secured.db(lambda conn: service.create_repo(conn, "acme/shop"))
    job = job_token(secured, "acme/shop", {"packages": "write"})
    resp = await c.post("/v2/acme/shop/blobs/uploads/", headers=job)
    err = await errors(resp)
    assert err["message"].startswith("permission_denied: write_package")
    assert "deleted" in err["message"]


async def test_runner_api_mints_and_revokes(secured: Registry) -> None:
    c = secured.client
    alice = setup_acme(secured)
    await push_image(c, "acme/shop", "v1", headers=alice)
    keys = secured.services.keys
    runner = secured.db(lambda conn: credentials.create_runner(conn, keys, "ci", ("acme",))[1])
    auth = {"Authorization": f"Bearer {runner}"}
    made = await c.post(
        "/api/v1/job-tokens",
        json={"repository": "acme/shop", "permissions": {"packages": "read"}, "run_id": "7"},
        headers=auth,
    )
    assert made.status == 201, await made.text()
    body = await made.json()
    assert body["permissions"] == {"packages": "read", "contents": "none", "metadata": "none"}
    job = basic("x", body["token"])
    secured.db(
        lambda conn: package_settings.add_actions_access(conn, "acme/shop", "acme/shop", Role.READ)
    )
    assert (await c.get("/v2/acme/shop/manifests/v1", headers=job)).status == 200
    assert (await c.delete(f"/api/v1/job-tokens/{body['id']}", headers=auth)).status == 204
    assert (await c.get("/v2/acme/shop/manifests/v1", headers=job)).status == 401
    nobody = await c.post("/api/v1/job-tokens", json={"repository": "acme/shop"})
    assert nobody.status == 401
    with_pat = await c.post(
        "/api/v1/job-tokens",
        json={"repository": "acme/shop"},
        headers={"Authorization": alice["Authorization"]},
    )
    assert with_pat.status == 401


async def test_audit_records_decisions(secured: Registry) -> None:
    c = secured.client
    alice = setup_acme(secured)
    await push_image(c, "acme/shop", "v1", headers=alice)
    job = job_token(secured, "acme/shop", {"packages": "write"})
    await c.post("/v2/acme/shop/blobs/uploads/", headers=job)
    assert secured.services.audit_buffer is not None
    secured.services.audit_buffer.flush()
    await asyncio.sleep(0)
    from cargohold.audit.log import query

    rows = secured.db(lambda conn: query(conn, "acme/shop", 100))
    results = {(r["actor"], r["result"]) for r in rows}
    assert ("user alice", "allowed") in results
    assert ("repository acme/shop", "denied") in results
    denied = next(r for r in rows if r["result"] == "denied")
    assert denied["gate"] == "role"
    assert denied["credential_id"].startswith("chj_")


async def test_source_label_links_new_package(secured: Registry) -> None:
    c = secured.client
    alice = setup_acme(secured)
    labelled = (
        b'{"architecture":"amd64","os":"linux","config":{"Labels":'
        b'{"org.opencontainers.image.source":"https://github.com/acme/shop"}}}'
    )
    await push_image(c, "acme/shop", "v1", headers=alice, config=labelled)
    shown = secured.db(lambda conn: package_settings.describe(conn, "acme/shop").as_dict())
    assert shown["linked_repository"] == "acme/shop"
    assert shown["inherit"] is True  # the org's default for new packages
    # A label naming another owner's repository, or none that exists, links nothing.
    foreign = labelled.replace(b"acme/shop", b"elsewhere/shop")
    await push_image(c, "acme/api", "v1", headers=alice, config=foreign)
    assert (
        secured.db(lambda conn: package_settings.describe(conn, "acme/api").as_dict())[
            "linked_repository"
        ]
        is None
    )
    # Only the first version links: a later label does not move an unlinked package.
    await push_image(c, "acme/api", "v2", headers=alice, config=labelled.replace(b"shop", b"api"))
    assert (
        secured.db(lambda conn: package_settings.describe(conn, "acme/api").as_dict())[
            "linked_repository"
        ]
        is None
    )


async def test_catalog_lists_what_the_caller_may_pull(secured: Registry) -> None:
    c = secured.client
    alice = setup_acme(secured)
    bob = secured.user("bob")
    root = secured.user("root", site_admin=True)
    narrow_root = secured.user("root2", site_admin=True, scopes=frozenset({"write:packages"}))
    no_read_root = secured.user("root3", site_admin=True, scopes=frozenset({"delete:packages"}))
    for name in ("acme/a", "acme/b", "acme/c"):
        await push_image(c, name, "v1", headers=alice)
    secured.db(lambda conn: package_settings.set_visibility(conn, "acme/b", Visibility.PUBLIC))

    async def listed(headers: dict[str, str], query: str = "") -> list[str]:
        resp = await c.get(f"/v2/_catalog{query}", headers=headers)
        assert resp.status == 200
        return list((await resp.json())["repositories"])

    assert await listed(alice) == ["acme/a", "acme/b", "acme/c"]
    assert await listed(bob) == ["acme/b"]
    assert await listed(root) == ["acme/a", "acme/b", "acme/c"]
    assert await listed(narrow_root) == ["acme/a", "acme/b", "acme/c"]  # write implies read
    # A site admin's token without read:packages only sees what anyone may read.
    assert await listed(no_read_root) == ["acme/b"]
    assert await listed(alice, "?n=1&last=acme/a") == ["acme/b"]
    secured.db(lambda conn: package_settings.grant(conn, "acme/c", Role.READ, user="bob"))
    assert await listed(bob) == ["acme/b", "acme/c"]
