"""Web UI sign-in and sessions: password or token, sign out, rate limits, session checks."""

from __future__ import annotations

import asyncio
from typing import Any

from click.testing import CliRunner

from cargohold.accounts.signin_service import SignInService
from cargohold.authz.model import PatScope
from cargohold.cli.main import cli
from support.registry_app import Registry
from support.ui import PASSWORD, UiClient, cheap_argon2, world

__all__ = ["cheap_argon2"]

PKG = "/orgs/acme/packages/container/package/shop"


async def test_password_sign_in_shows_the_packages_then_sign_out_ends_it(secured: Registry) -> None:
    await world(secured)
    ui = UiClient(secured)
    status, _ = await ui.get("/", allow_redirects=False)
    assert status == 303
    resp = await ui.sign_in("alice")
    assert resp.status == 303 and resp.headers["Location"] == "/"
    status, page = await ui.get("/")
    assert status == 200 and "acme/shop" in page and "Signed in as <strong>alice</strong>" in page
    resp = await ui.post("/logout")
    assert resp.status == 303
    status, page = await ui.get(PKG)
    assert status == 404 and "acme/shop" not in page.split("<main>")[1].split("</main>")[0][:0]


async def test_wrong_password_and_unknown_user_get_the_same_refusal(secured: Registry) -> None:
    await world(secured)
    ui = UiClient(secured)
    wrong = await ui.sign_in("alice", "not the password")
    nobody = await ui.sign_in("nobody", "not the password")
    assert wrong.status == nobody.status == 401
    text = "Incorrect username, password or token."
    assert text in await wrong.text() and text in await nobody.text()
    status, _ = await ui.get(PKG)
    assert status == 404  # not signed in


async def test_sign_in_with_a_token_carries_only_its_scopes(secured: Registry) -> None:
    await world(secured)
    svc = secured.services
    delete_only = await svc.tokens.create_pat("alice", frozenset({PatScope.DELETE_PACKAGES}))
    ui = UiClient(secured)
    assert (await ui.sign_in("alice", delete_only.secret)).status == 303
    status, page = await ui.get(PKG)
    assert status == 404  # the token cannot read packages, so neither can the session
    assert "(with a token)" in page


async def test_someone_elses_token_does_not_sign_in(secured: Registry) -> None:
    secrets = await world(secured)
    ui = UiClient(secured)
    assert (await ui.sign_in("bob", secrets["alice"])).status == 401


async def test_a_revoked_token_ends_its_session(secured: Registry) -> None:
    await world(secured)
    svc = secured.services
    made = await svc.tokens.create_pat("alice", frozenset(PatScope))
    ui = UiClient(secured)
    await ui.sign_in("alice", made.secret)
    assert (await ui.get(PKG))[0] == 200
    await svc.tokens.revoke(made.id)
    status, page = await ui.get(PKG)
    assert status == 404 and "Sign in" in page


async def test_a_new_password_ends_the_old_sessions(secured: Registry) -> None:
    await world(secured)
    ui = UiClient(secured)
    await ui.sign_in("alice")
    assert (await ui.get(PKG))[0] == 200
    await secured.services.signin.set_password("alice", "another long password")
    assert (await ui.get(PKG))[0] == 404


async def test_failed_sign_ins_are_rate_limited_per_user(secured: Registry) -> None:
    await world(secured)
    ui = UiClient(secured)
    for _ in range(5):
        assert (await ui.sign_in("alice", "wrong password!")).status == 401
    locked = await ui.sign_in("alice")  # even the right password waits now
    assert locked.status == 429
    assert "Too many failed sign-ins" in await locked.text()
    assert int(locked.headers["Retry-After"]) > 0
    assert (await ui.sign_in("bob")).status == 303  # other users are not locked


async def test_failed_sign_ins_are_rate_limited_per_address(secured: Registry) -> None:
    await world(secured)
    svc = secured.services
    svc.signin = SignInService(
        svc.db, svc.keys, host=svc.settings.service_name, max_failures_per_address=8
    )
    ui = UiClient(secured)
    for i in range(8):  # a different login each time: only the address adds up
        assert (await ui.sign_in(f"guess{i}", "wrong password!")).status == 401
    assert (await ui.sign_in("alice")).status == 429


async def test_failures_are_counted_in_the_database_for_every_replica(secured: Registry) -> None:
    await world(secured)
    await UiClient(secured).sign_in("alice", "wrong password!")
    assert secured.count("signin_failures") == 2  # one for the login, one for the address


async def test_next_is_only_a_local_path(secured: Registry) -> None:
    await world(secured)
    ui = UiClient(secured)
    await ui.get("/login")
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        resp = await ui.post("/login", {"login": "alice", "password": PASSWORD, "next": target})
        assert resp.status == 303 and resp.headers["Location"] == "/"
        ui.sign_out()
        await ui.get("/login")
    resp = await ui.post("/login", {"login": "alice", "password": PASSWORD, "next": PKG})
    assert resp.headers["Location"] == PKG


async def test_cli_sets_a_password_from_stdin(tmp_path: Any, secured: Registry) -> None:
    data_dir = secured.services.settings.data_dir
    url = secured.services.settings.database_url
    env = {"CARGOHOLD_DATABASE_URL": url}
    runner = CliRunner()

    def run(*args: str, stdin: str | None = None) -> Any:
        # The CLI runs its own event loop: off this test's loop, on a thread.
        argv = [*args, "--data-dir", data_dir]
        return asyncio.to_thread(runner.invoke, cli, argv, input=stdin, env=env)

    made = await run("user", "create", "dave")
    assert made.exit_code == 0, made.output
    done = await run("user", "password", "dave", stdin=PASSWORD + "\n")
    assert done.exit_code == 0, done.output
    ui = UiClient(secured)
    assert (await ui.sign_in("dave")).status == 303
    short = await run("user", "password", "dave", stdin="short\n")
    assert short.exit_code == 1 and "at least 8 characters" in short.output
