"""Web UI forms: every settings section and the token page, through the real services; a
non-admin's POST is refused by the same decision, and bad input comes back as a message."""

from __future__ import annotations

from typing import Any

from cargohold.accounts.token_service import JobTokenRequest
from cargohold.authz.model import PatScope, Role, Visibility
from support.registry_app import Registry, basic, push_image
from support.ui import UiClient, cheap_argon2, flash, world

__all__ = ["cheap_argon2"]

SETTINGS = "/orgs/acme/packages/container/shop/settings"


async def _settings(reg: Registry) -> Any:
    return await reg.services.package_settings.describe("acme/shop")


async def _admin(reg: Registry) -> UiClient:
    await world(reg)
    ui = UiClient(reg)
    await ui.sign_in("alice")
    await ui.get(SETTINGS)
    return ui


async def test_actions_access_add_change_remove_and_the_job_push(secured: Registry) -> None:
    ui = await _admin(secured)
    job = await secured.services.tokens.mint_job_token(
        JobTokenRequest("acme/shop", {"packages": "write"})
    )
    job_auth = basic("x", str(job["token"]))
    refused = await secured.client.post("/v2/acme/shop/blobs/uploads/", headers=job_auth)
    assert refused.status == 403

    resp = await ui.post(f"{SETTINGS}/actions-access", {"repository": "acme/shop", "role": "write"})
    assert resp.headers["Location"] == f"{SETTINGS}#actions-access"
    _, page = await ui.follow(resp)
    assert flash(page) == ("ok", "Repository acme/shop has write access to acme/shop in Actions.")
    assert [(a.repository, a.role) for a in (await _settings(secured)).actions_access] == [
        ("acme/shop", Role.WRITE)
    ]
    await push_image(secured.client, "acme/shop", "v2", headers=job_auth)  # now allowed

    await ui.post(f"{SETTINGS}/actions-access", {"repository": "acme/shop", "role": "read"})
    assert (await _settings(secured)).actions_access[0].role is Role.READ
    resp = await ui.post(f"{SETTINGS}/actions-access/remove", {"repository": "acme/shop"})
    assert resp.status == 303
    assert (await _settings(secured)).actions_access == ()


async def test_bad_input_comes_back_as_a_message_in_its_section(secured: Registry) -> None:
    ui = await _admin(secured)
    resp = await ui.post(f"{SETTINGS}/actions-access", {"repository": "acme/nope", "role": "write"})
    assert resp.headers["Location"] == f"{SETTINGS}#actions-access"
    _, page = await ui.follow(resp)
    kind, message = flash(page) or ("", "")
    assert kind == "error" and "acme/nope" in message
    resp = await ui.post(f"{SETTINGS}/actions-access", {"repository": "acme/shop", "role": "owner"})
    _, page = await ui.follow(resp)
    assert flash(page) == ("error", "choose a role: read, write or admin")
    resp = await ui.post(f"{SETTINGS}/frobnicate", {})
    assert resp.status == 404


async def test_manage_access_users_and_teams(secured: Registry) -> None:
    ui = await _admin(secured)
    await secured.services.accounts.create_team("acme/devs")
    await ui.post(f"{SETTINGS}/access", {"kind": "user", "principal": "carol", "role": "write"})
    await ui.post(f"{SETTINGS}/access", {"kind": "team", "principal": "acme/devs", "role": "read"})
    access = {(g.user or g.team, g.role) for g in (await _settings(secured)).access}
    assert access == {("bob", Role.READ), ("carol", Role.WRITE), ("acme/devs", Role.READ)}
    await ui.post(f"{SETTINGS}/access/remove", {"kind": "user", "principal": "bob"})
    await ui.post(f"{SETTINGS}/access/remove", {"kind": "team", "principal": "acme/devs"})
    access = {(g.user or g.team, g.role) for g in (await _settings(secured)).access}
    assert access == {("carol", Role.WRITE)}
    _, page = await ui.get(SETTINGS)
    assert "user carol" in page and "granted write in Manage access" in page


async def test_link_unlink_and_inherit(secured: Registry) -> None:
    ui = await _admin(secured)
    await ui.post(f"{SETTINGS}/link", {"repository": "acme/web"})
    assert (await _settings(secured)).linked_repository == "acme/web"
    await ui.post(f"{SETTINGS}/inherit", {"inherit": "on"})
    assert (await _settings(secured)).inherit is True
    await ui.post(f"{SETTINGS}/inherit", {"inherit": "off"})
    assert (await _settings(secured)).inherit is False
    await ui.post(f"{SETTINGS}/unlink", {})
    assert (await _settings(secured)).linked_repository is None


async def test_visibility_needs_the_typed_name(secured: Registry) -> None:
    ui = await _admin(secured)
    resp = await ui.post(f"{SETTINGS}/visibility", {"visibility": "public", "confirm": "shopp"})
    _, page = await ui.follow(resp)
    assert flash(page) == (
        "error",
        "type the package name acme/shop to confirm (you typed 'shopp')",
    )
    assert (await _settings(secured)).visibility is Visibility.PRIVATE
    resp = await ui.post(f"{SETTINGS}/visibility", {"visibility": "public", "confirm": "acme/shop"})
    assert resp.headers["Location"] == f"{SETTINGS}#danger-zone"
    assert (await _settings(secured)).visibility is Visibility.PUBLIC


async def test_a_reader_is_refused_by_the_decision_and_nothing_changes(secured: Registry) -> None:
    await world(secured)
    ui = UiClient(secured)
    await ui.sign_in("bob")
    await ui.get(SETTINGS)
    for action, form in (
        ("actions-access", {"repository": "acme/shop", "role": "admin"}),
        ("access", {"kind": "user", "principal": "bob", "role": "admin"}),
        ("visibility", {"visibility": "public", "confirm": "acme/shop"}),
        ("link", {"repository": "acme/web"}),
    ):
        resp = await ui.post(f"{SETTINGS}/{action}", form)
        assert resp.status == 403, action
        assert "permission_denied: admin_package" in await resp.text()
    after = await _settings(secured)
    assert after.visibility is Visibility.PRIVATE and after.actions_access == ()
    assert {(g.user, g.role) for g in after.access} == {("bob", Role.READ)}


async def test_a_stranger_is_refused_too(secured: Registry) -> None:
    await world(secured)
    ui = UiClient(secured)
    await ui.sign_in("carol")
    resp = await ui.post(f"{SETTINGS}/access", {"principal": "carol", "role": "admin"})
    assert resp.status == 403
    assert {g.user for g in (await _settings(secured)).access} == {"bob"}


async def test_tokens_created_shown_once_listed_and_revoked(secured: Registry) -> None:
    await world(secured)
    ui = UiClient(secured)
    await ui.sign_in("bob")
    await ui.get("/settings/tokens")
    resp = await ui.post(
        "/settings/tokens",
        {"name": "laptop", "scopes": "read:packages", "expires": "7"},
    )
    assert resp.status == 200
    page = await resp.text()
    secret = page.split('<code id="new-token">')[1].split("</code>")[0]
    assert secret.startswith("chp_") and "it will not be shown again" in page
    (token,) = await secured.services.personal_tokens.list(await _identity(secured, secret))
    assert token.name == "laptop" and token.scopes == "read:packages"
    assert token.expires_at is not None
    _, listing = await ui.get("/settings/tokens")
    assert token.id in listing and secret not in listing  # never shown again
    resp = await ui.post(f"/settings/tokens/{token.id}/revoke")
    _, page = await ui.follow(resp)
    assert flash(page) == ("ok", f"Revoked token {token.id}.")
    assert (
        await secured.client.get("/v2/acme/shop/tags/list", headers=basic("bob", secret))
    ).status == 401


async def test_no_one_revokes_someone_elses_token(secured: Registry) -> None:
    secrets = await world(secured)
    alice_id = secrets["alice"][:10]
    ui = UiClient(secured)
    await ui.sign_in("bob")
    await ui.get("/settings/tokens")
    resp = await ui.post(f"/settings/tokens/{alice_id}/revoke")
    _, page = await ui.follow(resp)
    assert flash(page) == ("error", f"no token {alice_id} of yours")
    tags = await secured.client.get(
        "/v2/acme/shop/tags/list", headers=basic("alice", secrets["alice"])
    )
    assert tags.status == 200


async def test_a_token_session_cannot_make_tokens(secured: Registry) -> None:
    await world(secured)
    made = await secured.services.tokens.create_pat("bob", frozenset({PatScope.READ_PACKAGES}))
    ui = UiClient(secured)
    await ui.sign_in("bob", made.secret)
    _, page = await ui.get("/settings/tokens")
    assert 'id="password-needed"' in page and 'action="/settings/tokens"' not in page
    resp = await ui.post("/settings/tokens", {"scopes": "write:packages", "expires": "7"})
    assert resp.status == 403
    assert "signed in with a password" in await resp.text()
    tokens = await secured.services.tokens.list("bob")
    assert [t.id for t in tokens] == [made.id]


async def _identity(reg: Registry, secret: str) -> Any:
    from cargohold.accounts.credentials import authenticate_secret

    svc = reg.services
    return svc.read_on_loop(lambda r: authenticate_secret(r, svc.keys, secret, "x"))
