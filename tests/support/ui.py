"""Helpers for the web UI's functional tests: a cookie-keeping client that fills in CSRF tokens.

``UiClient`` wraps the in-process test client: ``get`` returns (status, html); ``post`` sends a
form with the CSRF token of the last page seen (``csrf=False`` leaves it out); ``sign_in`` and
``sign_out`` switch who the browser is. ``world`` builds the usual cast: alice owns org acme
and its package acme/shop; bob may read it; carol is a stranger; all have passwords.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import ClientResponse
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST

from cargohold.accounts import passwords
from cargohold.authz.model import PatScope, Role, Visibility
from support.registry_app import Registry, basic, push_image

PASSWORD = "a long enough password"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
FLASH = re.compile(r'<p class="flash (\w+)" role="status">(.*?)</p>', re.S)
ALL = frozenset(PatScope)


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real argon2 with its CHEAPEST parameters: the default ones take about a second per hash
    on a busy 2-core machine, and these tests hash a few hundred times. The code paths are
    the same; the end-to-end tests run with the real parameters."""
    hasher = PasswordHasher.from_parameters(CHEAPEST)
    monkeypatch.setattr(passwords, "_HASHER", hasher)
    monkeypatch.setattr(passwords, "_DUMMY", hasher.hash("cargohold dummy password"))


@dataclass
class UiClient:
    reg: Registry
    token: str = ""

    @property
    def client(self) -> Any:
        return self.reg.client

    async def get(self, path: str, **kwargs: Any) -> tuple[int, str]:
        resp = await self.client.get(path, **kwargs)
        text = await resp.text()
        found = CSRF.search(text)
        if found:
            self.token = found.group(1)
        return resp.status, text

    async def post(
        self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True
    ) -> ClientResponse:
        form = dict(data or {})
        if csrf:
            if not self.token:
                await self.get("/login")
            form["csrf_token"] = self.token
        return await self.client.post(path, data=form, allow_redirects=False)

    async def sign_in(self, login: str, secret: str = PASSWORD) -> ClientResponse:
        await self.get("/login")
        return await self.post("/login", {"login": login, "password": secret, "next": "/"})

    def sign_out(self) -> None:
        """Forget the session cookie (a different browser)."""
        self.client.session.cookie_jar.clear()
        self.token = ""

    async def follow(self, resp: ClientResponse) -> tuple[int, str]:
        assert resp.status == 303, await resp.text()
        return await self.get(resp.headers["Location"])


def flash(page: str) -> tuple[str, str] | None:
    found = FLASH.search(page)
    return (found.group(1), html.unescape(found.group(2))) if found else None


async def world(reg: Registry) -> dict[str, str]:
    """alice (owner of acme, PAT returned), bob (read on acme/shop), carol; acme/shop:v1."""
    svc = reg.services
    for login in ("alice", "bob", "carol"):
        await svc.accounts.create_user(login)
        await svc.signin.set_password(login, PASSWORD)
    await svc.accounts.create_org("acme", "alice")
    await svc.accounts.create_repo("acme/shop", Visibility.PRIVATE)
    await svc.accounts.create_repo("acme/web", Visibility.PRIVATE)
    pat = (await svc.tokens.create_pat("alice", ALL)).secret
    await push_image(reg.client, "acme/shop", "v1", headers=basic("alice", pat))
    await svc.package_settings.grant("acme/shop", Role.READ, user="bob")
    return {"alice": pat}
