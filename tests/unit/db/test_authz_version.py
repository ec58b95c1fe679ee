"""Every change the permission decision could see bumps authz_version; last-use times do not.

The per-process state memo (authz.memo) is exact only if this holds for every writer, so it is
checked here on both databases through the same domain services the CLI and the API use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text

from cargohold.accounts import credentials, service
from cargohold.accounts.secrets import derive_keys
from cargohold.audit.log import touch
from cargohold.authz.model import OrgRole, RepoRole, Role, Visibility
from cargohold.db import tx
from cargohold.db.engine import make_engine, migrate
from cargohold.registry import package_settings, packages
from support.db import reset_postgres

KEYS = derive_keys("test")


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'v.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        reset_postgres(url)
    eng = make_engine(url)
    migrate(eng)
    yield eng
    eng.dispose()


def version(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(text("SELECT version FROM authz_version WHERE id = 1")).scalar_one()
        )


def bumps(engine: Engine, change: Callable[[Connection], Any]) -> bool:
    before = version(engine)
    with tx.write(engine) as conn:
        change(conn)
    return version(engine) > before


def test_each_change_bumps_and_last_use_does_not(engine: Engine) -> None:
    changes: list[Callable[[Connection], Any]] = [
        lambda c: service.create_account(c, "alice", "user"),
        lambda c: service.create_org(c, "acme", "alice"),
        lambda c: service.create_account(c, "bob", "user"),
        lambda c: service.add_member(c, "acme", "bob", OrgRole.MEMBER),
        lambda c: service.create_team(c, "acme/devs"),
        lambda c: service.add_team_member(c, "acme/devs", "bob"),
        lambda c: service.create_repo(c, "acme/shop"),
        lambda c: service.add_collaborator(c, "acme/shop", RepoRole.WRITE, user="bob"),
        lambda c: service.set_org_settings(c, "acme", default_visibility=Visibility.INTERNAL),
        lambda c: packages.create(c, "acme/shop", owner=service.require_account(c, "acme")),
        lambda c: package_settings.set_visibility(c, "acme/shop", Visibility.PUBLIC),
        lambda c: package_settings.link(c, "acme/shop", "acme/shop"),
        lambda c: package_settings.set_inherit(c, "acme/shop", True),
        lambda c: package_settings.grant(c, "acme/shop", Role.READ, user="bob"),
        lambda c: package_settings.grant(c, "acme/shop", Role.WRITE, team="acme/devs"),
        lambda c: package_settings.add_actions_access(c, "acme/shop", "acme/shop", Role.WRITE),
        lambda c: package_settings.remove_actions_access(c, "acme/shop", "acme/shop"),
        lambda c: credentials.create_pat(
            c, KEYS, service.require_account(c, "bob"), frozenset({"read:packages"}), None
        ),
        lambda c: service.delete_repo(c, "acme/shop"),
    ]
    for index, change in enumerate(changes):
        assert bumps(engine, change), f"change {index} did not bump authz_version"

    def last_use(conn: Connection) -> None:
        cred_id = conn.execute(text("SELECT id FROM credentials")).scalar_one()
        touch(conn, {cred_id: datetime.now(UTC)})

    assert not bumps(engine, last_use)
    assert bumps(
        engine,
        lambda c: credentials.revoke(c, c.execute(text("SELECT id FROM credentials")).scalar_one()),
    )
