"""Web UI against a hostile page or network: CSRF, framing, script injection, cookie theft."""

from __future__ import annotations

from typing import Any

from cargohold.authz.model import Role
from support.registry_app import Registry
from support.ui import PASSWORD, UiClient, cheap_argon2, world

__all__ = ["cheap_argon2"]

SETTINGS = "/orgs/acme/packages/container/shop/settings"
GRANT = {"repository": "acme/shop", "role": "admin"}


async def _actions(reg: Registry) -> tuple[Any, ...]:
    return (await reg.services.package_settings.describe("acme/shop")).actions_access


async def test_a_form_posted_without_its_csrf_token_is_refused(secured: Registry) -> None:
    await world(secured)
    ui = UiClient(secured)
    await ui.sign_in("alice")
    resp = await ui.post(f"{SETTINGS}/actions-access", GRANT, csrf=False)
    assert resp.status == 403
    assert "CSRF token missing or wrong" in await resp.text()
    assert await _actions(secured) == ()


async def test_a_csrf_token_of_another_session_is_refused(secured: Registry) -> None:
    await world(secured)
    attacker = UiClient(secured)
    await attacker.sign_in("carol")
    stolen = attacker.token
    attacker.sign_out()
    victim = UiClient(secured)
    await victim.sign_in("alice")
    form = {**GRANT, "csrf_token": stolen}
    resp = await secured.client.post(f"{SETTINGS}/actions-access", data=form)
    assert resp.status == 403
    assert await _actions(secured) == ()


async def test_sign_in_and_sign_out_need_the_token_too(secured: Registry) -> None:
    await world(secured)
    ui = UiClient(secured)
    form = {"login": "alice", "password": PASSWORD}
    assert (await ui.post("/login", form, csrf=False)).status == 403  # no login CSRF
    await ui.sign_in("alice")
    assert (await ui.post("/logout", csrf=False)).status == 403
    assert (await ui.get("/"))[0] == 200  # still signed in


async def test_pages_carry_a_strict_policy_and_refuse_framing(secured: Registry) -> None:
    await world(secured)
    ui = UiClient(secured)
    await ui.sign_in("alice")
    for url in ("/login", "/", SETTINGS, "/orgs/acme/packages/container/package/nope"):
        resp = await secured.client.get(url)
        csp = resp.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, url
        assert "unsafe-inline" not in csp
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Cache-Control"] == "no-store"
        body = await resp.text()
        assert "<script>" not in body and " on" + "click=" not in body  # no inline script
    # The registry API is untouched (no session, no UI headers on the hot path).
    api = await secured.client.get("/v2/")
    assert "Content-Security-Policy" not in api.headers and "Set-Cookie" not in api.headers


async def test_session_cookie_flags(make_registry: Any) -> None:
    reg: Registry = await make_registry(auth_enabled=True, cookie_secure=True)
    await world(reg)
    resp = await reg.client.get("/login")
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


async def test_session_cookie_is_not_secure_on_plain_http_by_default(secured: Registry) -> None:
    resp = await secured.client.get("/login")
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


async def test_a_forged_or_tampered_cookie_is_anonymous(secured: Registry) -> None:
    await world(secured)
    ui = UiClient(secured)
    await ui.sign_in("alice")
    jar = secured.client.session.cookie_jar
    (cookie,) = list(jar)
    assert (await ui.get(SETTINGS))[0] == 200
    value = cookie.value.strip('"')
    middle = len(value) // 2
    flipped = value[:middle] + ("A" if value[middle] != "A" else "B") + value[middle + 1 :]
    for forged in (flipped, "not a fernet token", value[:-10]):
        jar.clear()
        jar.update_cookies({cookie.key: forged})
        status, page = await ui.get(SETTINGS)
        assert status == 404 and "Signed in as" not in page, forged
    jar.clear()
    jar.update_cookies({cookie.key: value})
    assert (await ui.get(SETTINGS))[0] == 200  # the genuine cookie still works


async def test_the_session_key_is_not_the_server_secret_in_clear(secured: Registry) -> None:
    from cargohold.web.ui.security import session_key

    keys = secured.services.keys
    assert session_key(keys) not in (keys.signing_key, keys.hash_key)
    assert len(session_key(keys)) == 32


async def test_a_reader_cannot_grant_even_with_a_valid_token(secured: Registry) -> None:
    await world(secured)
    ui = UiClient(secured)
    await ui.sign_in("bob")
    await ui.get(SETTINGS)  # a page with a form token
    resp = await ui.post(f"{SETTINGS}/access", {"principal": "bob", "role": "admin"})
    assert resp.status == 403
    access = (await secured.services.package_settings.describe("acme/shop")).access
    assert [(g.user, g.role) for g in access] == [("bob", Role.READ)]
