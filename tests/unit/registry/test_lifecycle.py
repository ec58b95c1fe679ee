"""registry.lifecycle over a real database: delete, restore within the window, the
garbage collector's "purgeable as of T" predicate and the purges, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, func, select

from cargohold.accounts import service
from cargohold.db import schema as s
from cargohold.db import tx
from cargohold.db.engine import make_engine, migrate
from cargohold.errors import ConflictError, ManifestUnknownError, NameUnknownError
from cargohold.registry import lifecycle, packages
from support.db import reset_postgres

WINDOW = timedelta(days=30)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'l.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        reset_postgres(url)
    eng = make_engine(url)
    migrate(eng)
    yield eng
    eng.dispose()


def _manifest(conn: Connection, package_id: int, digest: str, tags: list[str]) -> None:
    conn.execute(
        s.manifests.insert().values(
            package_id=package_id, digest=digest, media_type="m", size=2, content=b"{}",
            created_at=T0,
        )
    )  # fmt: skip
    for tag in tags:
        conn.execute(
            s.tags.insert().values(package_id=package_id, name=tag, digest=digest, updated_at=T0)
        )


def _setup(conn: Connection) -> int:
    owner = service.create_account(conn, "alice", "user")
    pid = packages.create(conn, "alice/app", owner=owner).id
    _manifest(conn, pid, "sha256:aa", ["v1", "latest"])
    _manifest(conn, pid, "sha256:bb", ["v2"])
    return pid


def _tags(conn: Connection, pid: int) -> dict[str, str]:
    rows = conn.execute(select(s.tags.c.name, s.tags.c.digest).where(s.tags.c.package_id == pid))
    return {r.name: r.digest for r in rows}


def test_version_delete_moves_tags_aside_and_restore_puts_free_ones_back(engine: Engine) -> None:
    with tx.write(engine) as conn:
        pid = _setup(conn)
        lifecycle.delete_version(conn, pid, "sha256:aa", "user alice", T0)
        assert _tags(conn, pid) == {"v2": "sha256:bb"}
        stored = conn.execute(
            select(s.manifests.c.deleted_tags).where(s.manifests.c.digest == "sha256:aa")
        ).scalar_one()
        assert json.loads(stored) == ["latest", "v1"]
        with pytest.raises(ManifestUnknownError):
            lifecycle.delete_version(conn, pid, "sha256:aa", "user alice", T0)
        # meanwhile "latest" moved to another version: it stays there
        conn.execute(
            s.tags.insert().values(package_id=pid, name="latest", digest="sha256:bb", updated_at=T0)
        )
        restored = lifecycle.restore_version(conn, pid, "sha256:aa", WINDOW, T0 + timedelta(days=1))
        assert restored == ["v1"]
        assert _tags(conn, pid) == {"v1": "sha256:aa", "v2": "sha256:bb", "latest": "sha256:bb"}
        with pytest.raises(ManifestUnknownError):
            lifecycle.restore_version(conn, pid, "sha256:aa", WINDOW, T0)


def test_restore_only_within_the_window(engine: Engine) -> None:
    with tx.write(engine) as conn:
        pid = _setup(conn)
        lifecycle.delete_version(conn, pid, "sha256:aa", "x", T0)
        lifecycle.delete_package(conn, pid, "x", T0)
        with pytest.raises(NameUnknownError):
            lifecycle.delete_package(conn, pid, "x", T0)
        late = T0 + WINDOW
        with pytest.raises(ConflictError):
            lifecycle.restore_version(conn, pid, "sha256:aa", WINDOW, late)
        with pytest.raises(ConflictError):
            lifecycle.restore_package(conn, pid, WINDOW, late)
        lifecycle.restore_package(conn, pid, WINDOW, late - timedelta(seconds=1))
        with pytest.raises(NameUnknownError):
            lifecycle.restore_package(conn, pid, WINDOW, late)


def test_purgeable_as_of_and_purges(engine: Engine) -> None:
    with tx.write(engine) as conn:
        pid = _setup(conn)
        owner = conn.execute(select(s.packages.c.owner_id).where(s.packages.c.id == pid)).scalar()
        assert owner is not None
        other = packages.create(conn, "alice/old", owner=owner).id
        _manifest(conn, other, "sha256:cc", ["x"])
        lifecycle.delete_version(conn, pid, "sha256:aa", "x", T0)
        lifecycle.delete_version(conn, other, "sha256:cc", "x", T0)
        lifecycle.delete_package(conn, other, "x", T0 + timedelta(days=1))

        assert lifecycle.purgeable(conn, T0 + WINDOW - timedelta(seconds=1), WINDOW) == (
            lifecycle.Purgeable((), ())
        )
        due = lifecycle.purgeable(conn, T0 + WINDOW, WINDOW)
        # versions whose own window is over go, even in a package still restorable
        assert due == lifecycle.Purgeable((), ((pid, "sha256:aa"), (other, "sha256:cc")))
        later = lifecycle.purgeable(conn, T0 + WINDOW + timedelta(days=1), WINDOW)
        assert later.packages == (other,)

        assert lifecycle.purge_version(conn, pid, "sha256:aa")
        assert not lifecycle.purge_version(conn, pid, "sha256:aa")
        assert not lifecycle.purge_version(conn, pid, "sha256:bb")  # live: never purged
        assert not lifecycle.purge_package(conn, pid)  # live: never purged
        assert lifecycle.purge_package(conn, other)
        count = conn.execute(select(func.count()).select_from(s.packages)).scalar()
        assert count == 1
        # the purged name is free again
        packages.create(conn, "alice/old", owner=owner)
