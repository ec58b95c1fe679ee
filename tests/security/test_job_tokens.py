"""Findings 3 and 4: job-token permissions and runner credentials.

3. ``permissions: {}`` (and the CLI's ``--permissions ""``) is an empty block: every permission
   ``none``; only a missing block takes the owner's default.
4. A runner mints only for the owners or repositories it serves, revokes only tokens it minted,
   and both are audited.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import select

from cargohold.accounts import credentials, service
from cargohold.authz.model import JobDefault
from cargohold.cli.main import cli
from cargohold.db import schema as s
from support.registry_app import Registry


def _acme(reg: Registry, *, permissive: bool = True) -> None:
    reg.user("alice")

    def setup(conn: Any) -> None:
        service.create_org(conn, "acme", "alice")
        service.create_repo(conn, "acme/shop")
        service.create_account(conn, "other", "org")
        service.create_repo(conn, "other/app")
        if permissive:
            service.set_org_settings(conn, "acme", default_job_permission=JobDefault.PERMISSIVE)

    reg.db(setup)


def _runner(reg: Registry, *serves: str) -> dict[str, str]:
    keys = reg.services.keys
    secret = reg.db(lambda conn: credentials.create_runner(conn, keys, "ci", serves)[1])
    return {"Authorization": f"Bearer {secret}"}


async def test_an_empty_permissions_block_gives_none(secured: Registry) -> None:
    _acme(secured)
    runner = _runner(secured, "acme")
    made = await secured.client.post(
        "/api/v1/job-tokens", json={"repository": "acme/shop", "permissions": {}}, headers=runner
    )
    assert made.status == 201, await made.text()
    assert (await made.json())["permissions"] == {
        "packages": "none",
        "contents": "none",
        "metadata": "none",
    }
    token = (await made.json())["token"]
    push = await secured.client.post(
        "/v2/acme/new/blobs/uploads/", headers={"Authorization": f"Bearer {token}"}
    )
    assert push.status in (401, 403)


def test_the_cli_empty_permissions_gives_none(tmp_path: Path) -> None:
    runner, data = CliRunner(), ["--data-dir", str(tmp_path / "data")]
    for args in (
        ["user", "create", "alice"],
        ["org", "create", "acme", "--owner", "alice"],
        ["org", "settings", "acme", "--default-job-permission", "permissive"],
        ["repo", "create", "acme/shop"],
        ["job-token", "create", "--repository", "acme/shop", "--permissions", ""],
    ):
        result = runner.invoke(cli, [*args, *data])
        assert result.exit_code == 0, result.output
    listed = json.loads(runner.invoke(cli, ["token", "list", "--json", *data]).stdout)
    assert listed[-1]["permissions"] == "contents=none,metadata=none,packages=none"


async def test_a_runner_mints_only_for_what_it_serves(secured: Registry) -> None:
    _acme(secured)
    runner = _runner(secured, "acme")
    ok = await secured.client.post(
        "/api/v1/job-tokens", json={"repository": "acme/shop"}, headers=runner
    )
    assert ok.status == 201
    other = await secured.client.post(
        "/api/v1/job-tokens",
        json={"repository": "other/app", "permissions": {"packages": "write"}},
        headers=runner,
    )
    assert other.status == 403
    assert "does not serve other/app" in (await other.json())["errors"][0]["message"]
    nothing = _runner(secured)
    assert (
        await secured.client.post(
            "/api/v1/job-tokens", json={"repository": "acme/shop"}, headers=nothing
        )
    ).status == 403


async def test_a_runner_revokes_only_its_own_tokens(secured: Registry) -> None:
    _acme(secured)
    first, second = _runner(secured, "acme"), _runner(secured, "acme")
    made = await secured.client.post(
        "/api/v1/job-tokens", json={"repository": "acme/shop"}, headers=first
    )
    token_id = (await made.json())["id"]

    stolen = await secured.client.delete(f"/api/v1/job-tokens/{token_id}", headers=second)
    assert stolen.status == 404
    revoked = secured.db(
        lambda c: c.execute(
            select(s.credentials.c.revoked_at).where(s.credentials.c.id == token_id)
        ).scalar()
    )
    assert revoked is None
    assert (
        await secured.client.delete(f"/api/v1/job-tokens/{token_id}", headers=first)
    ).status == 204


async def test_runner_calls_are_audited(secured: Registry) -> None:
    _acme(secured)
    runner = _runner(secured, "acme")
    made = await secured.client.post(
        "/api/v1/job-tokens", json={"repository": "acme/shop"}, headers=runner
    )
    await secured.client.post(
        "/api/v1/job-tokens", json={"repository": "other/app"}, headers=runner
    )
    made_id = (await made.json())["id"]
    await secured.client.delete(f"/api/v1/job-tokens/{made_id}", headers=runner)
    assert secured.services.audit_buffer is not None
    secured.services.audit_buffer.flush()
    rows = secured.db(lambda c: [dict(r._mapping) for r in c.execute(select(s.audit_log))])
    seen = {(r["action"], r["result"]) for r in rows if r["actor"].startswith("runner ")}
    assert seen == {
        ("mint_job_token", "allowed"),
        ("mint_job_token", "denied"),
        ("revoke_job_token", "allowed"),
    }
    secret = runner["Authorization"].split()[1]
    assert secret[10:] not in str(rows)  # the public id may appear, the secret never
