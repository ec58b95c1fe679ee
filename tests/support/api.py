"""Helpers for REST API tests: an org with people, tokens in GitHub's header form."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from cargohold.accounts import credentials, jobs, service
from cargohold.authz.model import OrgRole
from support.registry_app import ALL_SCOPES, Registry, push_image

PKG = "/api/v3/orgs/acme/packages/container/shop"


def token_header(basic_headers: dict[str, str]) -> dict[str, str]:
    """GitHub's ``Authorization: token X`` for the secret inside Basic headers."""
    decoded = base64.b64decode(basic_headers["Authorization"].split()[1]).decode()
    return {"Authorization": f"token {decoded.partition(':')[2]}"}


def pat(reg: Registry, login: str, scopes: frozenset[str]) -> dict[str, str]:
    keys = reg.services.keys

    def make(conn: Any) -> str:
        uid = service.account_id(conn, login)
        assert uid is not None
        return credentials.create_pat(conn, keys, uid, scopes, None)[1]

    return {"Authorization": f"Bearer {reg.db(make)}"}


def job(reg: Registry, repo: str, packages: str = "write") -> dict[str, str]:
    from datetime import timedelta

    keys = reg.services.keys
    made = reg.db(
        lambda c: jobs.mint(
            c, keys, repo, {"packages": packages}, timedelta(hours=1), max_ttl=timedelta(days=1)
        )
    )
    return {"Authorization": f"token {made['token']}"}


@dataclass
class Acme:
    """acme (owner alice, member carol), outsider bob, site admin root; acme/shop pushed (two
    versions v1 and v2) by alice; repositories acme/shop and acme/api."""

    reg: Registry
    alice: dict[str, str]  # token headers
    bob: dict[str, str]
    carol: dict[str, str]
    root: dict[str, str]
    alice_basic: dict[str, str]
    v1: str
    v2: str


async def acme(reg: Registry) -> Acme:
    alice = reg.user("alice")
    bob = reg.user("bob")
    carol = reg.user("carol")
    root = reg.user("root", site_admin=True)

    def org(conn: Any) -> None:
        service.create_org(conn, "acme", "alice")
        service.add_member(conn, "acme", "carol", OrgRole.MEMBER)
        service.create_repo(conn, "acme/shop")
        service.create_repo(conn, "acme/api")

    reg.db(org)
    v1, _ = await push_image(reg.client, "acme/shop", "v1", headers=alice)
    v2, _ = await push_image(reg.client, "acme/shop", "v2", seed=b"y", headers=alice)
    return Acme(
        reg,
        token_header(alice),
        token_header(bob),
        token_header(carol),
        token_header(root),
        alice,
        v1,
        v2,
    )


__all__ = ["ALL_SCOPES", "PKG", "Acme", "acme", "job", "pat", "token_header"]
