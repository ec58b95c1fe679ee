"""Database.write runs a transaction again when PostgreSQL aborted it to break a deadlock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, select
from sqlalchemy.exc import DBAPIError

from cargohold.db import schema as s
from cargohold.db.engine import make_engine, migrate
from cargohold.db.runner import WRITE_ATTEMPTS, Database


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _aborted(sqlstate: str) -> DBAPIError:
    return DBAPIError("UPDATE ...", {}, _PgError(sqlstate))


@pytest.fixture
def db(tmp_path: Path) -> Database:
    engine = make_engine(f"sqlite:///{tmp_path / 'runner.db'}")
    migrate(engine)
    return Database(engine, 1)


def _logins(db: Database) -> list[str]:
    with db.engine.connect() as conn:
        return list(conn.execute(select(s.accounts.c.login)).scalars())


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])
def test_a_deadlock_victim_is_run_again_and_its_first_attempt_left_nothing(
    db: Database, sqlstate: str
) -> None:
    attempts: list[int] = []

    def fn(conn: Connection) -> str:
        attempts.append(1)
        conn.execute(
            s.accounts.insert().values(
                login=f"try{len(attempts)}", kind="user", created_at=datetime.now(UTC)
            )
        )
        if len(attempts) < 3:
            raise _aborted(sqlstate)
        return "done"

    try:
        assert asyncio.run(db.write(fn)) == "done"
        assert len(attempts) == 3
        assert _logins(db) == ["try3"]  # the aborted attempts were rolled back
    finally:
        db.close()


def test_other_errors_and_endless_deadlocks_are_raised(db: Database) -> None:
    calls: list[int] = []

    def unique_violation(conn: Connection) -> None:
        calls.append(1)
        raise _aborted("23505")

    def always_deadlocked(conn: Connection) -> None:
        calls.append(1)
        raise _aborted("40P01")

    try:
        with pytest.raises(DBAPIError):
            asyncio.run(db.write(unique_violation))
        assert len(calls) == 1
        calls.clear()
        with pytest.raises(DBAPIError):
            asyncio.run(db.write(always_deadlocked))
        assert len(calls) == WRITE_ATTEMPTS
    finally:
        db.close()
