"""Extra finding: the catalog ran the decision for every package on the event loop.

The database now filters what the caller may see: an anonymous caller costs no decision at all,
a user only one per package a source of a role could reach. The answer is unchanged.
"""

from __future__ import annotations

from typing import Any

import pytest

from cargohold.accounts import service
from cargohold.authz.model import Role, Visibility
from cargohold.registry import catalog_service, package_settings, packages
from support.registry_app import Registry

COUNT = 60


def _packages(reg: Registry) -> None:
    reg.user("alice")

    def setup(conn: Any) -> None:
        org = service.create_org(conn, "acme", "alice")
        for i in range(COUNT):
            packages.create(conn, f"acme/p{i:03d}", owner=org)
        package_settings.set_visibility(conn, "acme/p007", Visibility.PUBLIC)

    reg.db(setup)


@pytest.fixture
def decisions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names the catalog asked the (real) decision about."""
    asked: list[str] = []
    real = catalog_service.decide

    def counting(*args: Any, **kwargs: Any) -> Any:
        asked.append(args[3].name)
        return real(*args, **kwargs)

    monkeypatch.setattr(catalog_service, "decide", counting)
    return asked


async def test_anonymous_catalog_takes_no_decision(secured: Registry, decisions: list[str]) -> None:
    _packages(secured)
    resp = await secured.client.get("/v2/_catalog")
    assert resp.status == 200
    assert (await resp.json())["repositories"] == ["acme/p007"]
    assert decisions == []


async def test_a_user_without_any_role_takes_no_decision(
    secured: Registry, decisions: list[str]
) -> None:
    _packages(secured)
    carol = secured.user("carol")
    resp = await secured.client.get("/v2/_catalog?n=100", headers=carol)
    assert (await resp.json())["repositories"] == ["acme/p007"]
    assert decisions == []


async def test_a_grant_is_listed_after_one_decision(
    secured: Registry, decisions: list[str]
) -> None:
    _packages(secured)
    bob = secured.user("bob2")
    secured.db(lambda conn: package_settings.grant(conn, "acme/p042", Role.READ, user="bob2"))
    resp = await secured.client.get("/v2/_catalog", headers=bob)
    assert (await resp.json())["repositories"] == ["acme/p007", "acme/p042"]
    assert decisions == ["acme/p042"]
