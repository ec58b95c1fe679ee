"""registry.effective_access: everyone who holds a role on a package, with its sources, and the
admins a reader is told to ask; candidates from every kind of source, none from a deleted one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cargohold.accounts.account_service import AccountService
from cargohold.authz.model import OrgRole, RepoRole, Role, Visibility
from cargohold.authz.service import state_for
from cargohold.db import tx
from cargohold.db.raw import Reader
from cargohold.registry.effective_access import admins, effective_access
from cargohold.registry.read_model import Access
from cargohold.registry.values import Actor, Target
from cargohold.services import Services, build
from support.registry_app import settings_for


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    """acme (owner alice, member bob) with repos acme/shop (collaborator dave) and acme/ci;
    acme/app pushed by the operator; carol, dave and erin exist; erin is a site admin."""
    svc = build(settings_for(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}"), audit_writer=False)
    accounts: AccountService = svc.accounts
    for login in ("alice", "bob", "carol", "dave"):
        await accounts.create_user(login)
    await accounts.create_user("erin", site_admin=True)
    await accounts.create_org("acme", "alice")
    await accounts.add_org_member("acme", "bob", OrgRole.MEMBER)
    await accounts.create_repo("acme/shop", Visibility.PRIVATE)
    await accounts.create_repo("acme/ci", Visibility.PRIVATE)
    await accounts.add_collaborator("acme/shop", RepoRole.WRITE, user="dave")
    await svc.packages.for_push(Target("acme/app"), Actor())
    yield svc
    svc.close()


def _access(svc: Services) -> tuple[dict[str, Access], tuple[str, ...]]:
    with tx.write(svc.engine) as conn:
        db = Reader.over(conn)
        state = state_for(db, "acme/app")
        return {a.who: a for a in effective_access(db, state)}, admins(db, state)


async def test_every_source_names_its_holders(services: Services) -> None:
    settings = services.package_settings
    await settings.grant("acme/app", Role.READ, user="carol")
    await settings.link("acme/app", "acme/shop")
    await settings.set_inherit("acme/app", True)
    await settings.add_actions_access("acme/app", "acme/ci", Role.WRITE)
    found, admin_names = _access(services)
    roles = {who: a.role for who, a in found.items()}
    assert roles == {
        "user alice": Role.ADMIN,  # owns acme
        "user erin": Role.ADMIN,  # site admin
        "user carol": Role.READ,  # granted
        "user dave": Role.WRITE,  # collaborator of the linked repository, inherited
        "repository acme/ci": Role.WRITE,  # Actions access
        "repository acme/shop": Role.WRITE,  # the linked repository, inherited
    }
    assert "user bob" not in found  # a member with no role on a private package
    assert all(a.sources for a in found.values())
    assert "user alice" in admin_names and "user carol" not in admin_names


async def test_a_public_package_is_read_by_everyone_and_only_said_once(services: Services) -> None:
    await services.package_settings.set_visibility("acme/app", Visibility.PUBLIC)
    found, _ = _access(services)
    assert found["everyone"] == Access("everyone", "everyone", Role.READ, ())
    assert "user bob" not in found  # public read is not repeated for each member


async def test_a_deleted_repository_holds_nothing(services: Services) -> None:
    await services.package_settings.add_actions_access("acme/app", "acme/ci", Role.WRITE)
    await services.accounts.delete_repo("acme/ci")
    found, _ = _access(services)
    assert "repository acme/ci" not in found
