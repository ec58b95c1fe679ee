"""PackageSettingsService: one transaction per change, authorized for an acting identity."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cargohold.accounts import service
from cargohold.accounts.credentials import load_user_principal
from cargohold.authz.model import (
    AccountKind,
    Credential,
    CredentialKind,
    Identity,
    Role,
    Visibility,
)
from cargohold.db import tx
from cargohold.db.raw import Reader
from cargohold.errors import DeniedError, NotFoundError
from cargohold.registry.values import Actor, Target
from cargohold.services import Services, build
from support.registry_app import settings_for


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    svc = build(settings_for(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}"), audit_writer=False)
    await svc.accounts.create_user("alice")
    await svc.accounts.create_user("bob")
    await svc.accounts.create_org("acme", "alice")
    await svc.accounts.create_repo("acme/shop", Visibility.PRIVATE)
    await svc.packages.for_push(Target("acme/app"), Actor())
    yield svc
    svc.close()


def _session(svc: Services, login: str) -> Identity:
    """A logged-in user (the web UI's session): the full power of the user, no narrowing."""
    with tx.write(svc.engine) as conn:
        uid = service.require_account(conn, login, AccountKind.USER)
        principal = load_user_principal(Reader.over(conn), uid)
    assert principal is not None
    return Identity(principal, Credential(CredentialKind.SESSION))


async def test_the_operator_changes_settings(services: Services) -> None:
    shown = await services.package_settings.grant("acme/app", Role.WRITE, user="bob")
    assert [(g.user, g.role) for g in shown.access] == [("bob", Role.WRITE)]
    shown = await services.package_settings.set_visibility("acme/app", Visibility.PUBLIC)
    assert shown.visibility is Visibility.PUBLIC


async def test_a_writer_may_not_link_or_inherit(services: Services) -> None:
    await services.package_settings.grant("acme/app", Role.WRITE, user="bob")
    bob = _session(services, "bob")
    with pytest.raises(DeniedError):
        await services.package_settings.link("acme/app", "acme/shop", by=bob)
    with pytest.raises(DeniedError):
        await services.package_settings.set_inherit("acme/app", True, by=bob)
    shown = await services.package_settings.describe("acme/app")
    assert shown.linked_repository is None and shown.inherit is False


async def test_an_admin_may(services: Services) -> None:
    alice = _session(services, "alice")  # owner of acme
    shown = await services.package_settings.link("acme/app", "acme/shop", by=alice)
    assert shown.linked_repository == "acme/shop"


async def test_a_missing_package_is_not_found(services: Services) -> None:
    with pytest.raises(NotFoundError):
        await services.package_settings.describe("acme/none")
