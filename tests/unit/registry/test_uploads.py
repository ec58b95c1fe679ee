"""Upload session rows: ownership by credential and the claim that serialises writers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from cargohold.db import schema as s
from cargohold.db import tx
from cargohold.db.engine import make_engine, migrate
from cargohold.errors import BlobUploadUnknownError, RangeInvalidError
from cargohold.registry import packages, uploads


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'u.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


def _open(engine: Engine, cred: str | None = "chp_alice1") -> uploads.UploadRow:
    with tx.write(engine) as conn:
        owner = packages.ensure_owner(conn, "acme")
        pkg = packages.create(conn, "acme/app", owner=owner)
        return uploads.open_session(conn, pkg.id, "store-id", cred)


def test_only_the_opening_credential_sees_the_session(engine: Engine) -> None:
    row = _open(engine)
    with tx.write(engine) as conn, pytest.raises(BlobUploadUnknownError):
        uploads.get(conn, row.package_id, row.id, "chp_bob123")
    with tx.write(engine) as conn, pytest.raises(BlobUploadUnknownError):
        uploads.claim(conn, row.package_id, row.id, None)
    with tx.write(engine) as conn:
        assert uploads.get(conn, row.package_id, row.id, "chp_alice1").size == 0


def test_one_claim_at_a_time_and_the_offset_must_match(engine: Engine) -> None:
    row = _open(engine)
    with tx.write(engine) as conn:
        held = uploads.claim(conn, row.package_id, row.id, "chp_alice1", offset=0)
    with tx.write(engine) as conn, pytest.raises(RangeInvalidError):
        uploads.claim(conn, row.package_id, row.id, "chp_alice1")
    with tx.write(engine) as conn:
        uploads.advance(conn, held, 10)
    with tx.write(engine) as conn, pytest.raises(RangeInvalidError, match="starts at 3"):
        uploads.claim(conn, row.package_id, row.id, "chp_alice1", offset=3)
    with tx.write(engine) as conn:
        again = uploads.claim(conn, row.package_id, row.id, "chp_alice1", offset=10)
        uploads.release(conn, again)
    with tx.write(engine) as conn:
        assert uploads.get(conn, row.package_id, row.id, "chp_alice1").size == 10


def test_a_stale_claim_is_taken_over_and_its_holder_stops(engine: Engine) -> None:
    row = _open(engine)
    with tx.write(engine) as conn:
        dead = uploads.claim(conn, row.package_id, row.id, "chp_alice1")
        conn.execute(
            update(s.uploads).values(claimed_at=tx.now() - uploads.CLAIM_TTL - timedelta(1))
        )
    with tx.write(engine) as conn:
        alive = uploads.claim(conn, row.package_id, row.id, "chp_alice1")
    with tx.write(engine) as conn:
        assert not uploads.renew(conn, dead)
        assert uploads.renew(conn, alive)
    with tx.write(engine) as conn, pytest.raises(RangeInvalidError):
        uploads.advance(conn, dead, 5)


def test_times_written_by_compiled_statements_are_stored_as_sqlalchemy_stores_them(
    engine: Engine,
) -> None:
    # The janitor compares updated_at in SQL: a claim or an advance that stored its time in
    # another text format (sqlite3's own adapter adds "+00:00") would sort wrongly against it.
    row = _open(engine)
    with tx.write(engine) as conn:
        held = uploads.claim(conn, row.package_id, row.id, "chp_alice1")
        uploads.advance(conn, held, 5)
        uploads.claim(conn, row.package_id, row.id, "chp_alice1")
    with engine.connect() as conn:
        created, updated, claimed = conn.exec_driver_sql(
            "SELECT created_at, updated_at, claimed_at FROM uploads"
        ).one()
    shape = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}"
    assert re.fullmatch(shape, created), created  # written by SQLAlchemy Core
    assert re.fullmatch(shape, updated), updated
    assert re.fullmatch(shape, claimed), claimed
    assert updated >= created
