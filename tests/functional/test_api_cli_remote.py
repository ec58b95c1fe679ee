"""The CLI in remote mode (--server, --token / CARGOHOLD_TOKEN / `cargohold login`) against the
app in-process, and the new package words in local mode; exit codes 2/3/4; SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from cargohold.cli.main import cli
from support.api import PKG, Acme, acme
from support.registry_app import Registry


class Cli:
    def __init__(self, a: Acme, tmp_path: Path, db_url: str) -> None:
        self.a = a
        self.server = str(a.reg.client.make_url("")).rstrip("/")
        self.env = {
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "CARGOHOLD_DATABASE_URL": db_url,
            "CARGOHOLD_TOKEN": "",
        }
        self.data_dir = a.reg.services.settings.data_dir

    async def remote(self, who: dict[str, str] | None, *args: str, code: int = 0) -> Result:
        token = who["Authorization"].split()[1] if who else None
        argv = [*args, "--server", self.server, *(["--token", token] if token else [])]
        return await self._run(argv, code)

    async def local(self, *args: str, code: int = 0) -> Result:
        return await self._run([*args, "--data-dir", self.data_dir], code)

    async def _run(self, argv: list[str], code: int, stdin: str | None = None) -> Result:
        runner = CliRunner()
        # The CLI blocks (urllib); the app answers on this event loop, so run it on a thread.
        result = await asyncio.to_thread(runner.invoke, cli, argv, input=stdin, env=self.env)
        assert result.exit_code == code, (argv, result.output, result.stderr)
        return result


async def _cli(secured: Registry, tmp_path: Path, db_url: str) -> Cli:
    return Cli(await acme(secured), tmp_path, db_url)


async def test_remote_package_words(secured: Registry, tmp_path: Path, db_url: str) -> None:
    c = await _cli(secured, tmp_path, db_url)
    a = c.a
    listed = json.loads((await c.remote(a.alice, "package", "list", "acme", "--json")).stdout)
    assert [p["name"] for p in listed] == ["shop"]
    table = (await c.remote(a.alice, "package", "list", "acme")).stdout
    assert "NAME" in table and "shop" in table and "private" in table
    versions = (await c.remote(a.alice, "package", "versions", "acme/shop")).stdout
    assert "v1" in versions and "v2" in versions and a.v1 in versions
    await c.remote(a.alice, "package", "delete", "acme/shop", "--version", "v2")
    live = json.loads(
        (await c.remote(a.alice, "package", "versions", "acme/shop", "--json")).stdout
    )
    assert [v["name"] for v in live] == [a.v1]
    gone = await c.remote(a.alice, "package", "versions", "acme/shop", "--deleted", "--json")
    assert [v["name"] for v in json.loads(gone.stdout)] == [a.v2]
    await c.remote(a.alice, "package", "restore", "acme/shop", "--version", a.v2)
    shown = json.loads((await c.remote(a.alice, "package", "show", "acme/shop")).stdout)
    assert shown["name"] == "acme/shop"
    await c.remote(a.alice, "package", "delete", "acme/shop")
    await c.remote(a.alice, "package", "versions", "acme/shop", code=4)
    await c.remote(a.alice, "package", "restore", "acme/shop")
    resp = await secured.client.get(PKG, headers=a.alice)
    assert resp.status == 200


async def test_remote_exit_codes(secured: Registry, tmp_path: Path, db_url: str) -> None:
    c = await _cli(secured, tmp_path, db_url)
    a = c.a
    # bob cannot read it: not found (4), exactly like a missing package
    await c.remote(a.bob, "package", "versions", "acme/shop", code=4)
    await c.remote(a.bob, "package", "versions", "acme/nothing", code=4)
    # carol reads (granted), but deleting needs admin: denied (3), with the fix printed
    await c.remote(a.alice, "package", "access", "add", "acme/shop", "--user", "carol",
                   "--role", "read")  # fmt: skip
    denied = await c.remote(a.carol, "package", "delete", "acme/shop", code=3)
    assert "error:" in denied.stderr and "admin" in denied.stderr
    # bad input (2): a name without owner, an unknown role
    await c.remote(a.alice, "package", "show", "noslash", code=2)
    await c.remote(a.alice, "package", "access", "add", "acme/shop", "--user", "bob", code=2)
    # no token at all: denied (3)
    await c.remote(None, "package", "list", "acme", code=3)
    # a word that exists only locally
    await c.remote(a.root, "uploads", "sweep", code=2)


async def test_remote_permission_model_words(
    secured: Registry, tmp_path: Path, db_url: str
) -> None:
    c = await _cli(secured, tmp_path, db_url)
    a = c.a
    await c.remote(a.root, "user", "create", "dave")
    await c.remote(a.alice, "org", "member", "add", "acme", "dave", "--role", "member")
    await c.remote(a.alice, "team", "create", "acme/devs")
    await c.remote(a.alice, "team", "member", "add", "acme/devs", "dave")
    await c.remote(a.alice, "repo", "create", "acme/web")
    await c.remote(a.alice, "repo", "collaborator", "add", "acme/web", "--team", "acme/devs",
                   "--role", "write")  # fmt: skip
    await c.remote(a.alice, "package", "actions-access", "add", "acme/shop", "--repository",
                   "acme/web", "--role", "write")  # fmt: skip
    why = json.loads(
        (await c.remote(a.alice, "why", "acme/shop", "--repository", "acme/web")).stdout
    )
    assert why["role"] == "write"
    await c.remote(a.alice, "package", "visibility", "acme/shop", "internal")
    await c.remote(a.alice, "package", "link", "acme/shop", "--repository", "acme/web")
    shown = json.loads((await c.remote(a.alice, "package", "inherit", "acme/shop", "on")).stdout)
    assert shown["linked_repository"] == "acme/web" and shown["inherit"] is True
    await c.remote(a.alice, "package", "actions-access", "remove", "acme/shop", "--repository",
                   "acme/web")  # fmt: skip
    settings = json.loads(
        (
            await c.remote(a.alice, "org", "settings", "acme", "--default-visibility", "internal")
        ).stdout
    )
    assert settings["default_visibility"] == "internal"
    secret = (await c.remote(a.alice, "token", "create", "--user", "alice", "--scopes",
                             "read:packages", "--expires-in", "7d")).stdout.strip()  # fmt: skip
    assert secret.startswith("chp_")
    tokens = (await c.remote(a.alice, "token", "list")).stdout
    assert secret[:10] in tokens and "SCOPES" in tokens
    await c.remote(a.alice, "token", "create", "--user", "bob", "--scopes", "read:packages",
                   code=2)  # fmt: skip
    await c.remote(a.alice, "token", "revoke", secret[:10])
    audit = (await c.remote(a.alice, "audit", "--package", "acme/shop")).stdout
    assert "ACTOR" in audit


async def test_login_is_kept_0600(secured: Registry, tmp_path: Path, db_url: str) -> None:
    c = await _cli(secured, tmp_path, db_url)
    a = c.a
    token = a.alice["Authorization"].split()[1]
    result = await c._run(["login", c.server], 0, stdin=token + "\n")
    assert "signed in" in result.stdout and "alice" in result.stdout
    hosts = Path(c.env["XDG_CONFIG_HOME"]) / "cargohold" / "hosts.json"
    assert stat.S_IMODE(os.stat(hosts).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(hosts.parent).st_mode) == 0o700
    # the stored login is used when no token is given
    listed = await c._run(["package", "list", "acme", "--server", c.server, "--json"], 0)
    assert json.loads(listed.stdout)[0]["name"] == "shop"
    await c._run(["login", c.server, "--token", "chp_wrong"], 3)
    await c._run(["logout", c.server], 0)
    await c._run(["package", "list", "acme", "--server", c.server], 3)
    await c._run(["logout", c.server], 4)


async def test_local_package_words(secured: Registry, tmp_path: Path, db_url: str) -> None:
    c = await _cli(secured, tmp_path, db_url)
    a = c.a
    listed: Any = json.loads((await c.local("package", "list", "acme", "--json")).stdout)
    assert [p["name"] for p in listed] == ["shop"]
    assert "v1" in (await c.local("package", "versions", "acme/shop")).stdout
    await c.local("package", "delete", "acme/shop", "--version", "v1")
    deleted = json.loads((await c.local("package", "versions", "acme/shop", "--deleted",
                                        "--json")).stdout)  # fmt: skip
    assert [v["name"] for v in deleted] == [a.v1]
    await c.local("package", "restore", "acme/shop", "--version", a.v1)
    await c.local("package", "delete", "acme/shop")
    await c.local("package", "versions", "acme/shop", code=4)
    await c.local("package", "restore", "acme/shop")
    await c.local("package", "delete", "acme/shop", "--version", "nope", code=2)
    await c.local("package", "list", "nobody", code=4)
