"""The audit log on both databases: batching, collapsing, retention, last-used times, secrecy.

The buffer's own thread is given an interval of an hour so that only the explicit ``flush()``
and ``close()`` calls write: what a test sees never depends on timing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from cargohold.accounts import credentials, service
from cargohold.accounts.secrets import derive_keys
from cargohold.audit.log import AuditBuffer, AuditEntry, AuditService, query, record, touch
from cargohold.authz.model import Action
from cargohold.authz.service import authorize
from cargohold.db import schema as s
from cargohold.db.engine import make_engine, migrate
from cargohold.db.raw import Reader
from cargohold.db.runner import Database
from cargohold.db.tx import aware, write
from cargohold.errors import DeniedError, UnauthorizedError
from support.db import reset_postgres

KEYS = derive_keys("test")
HOUR = 3600.0
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'audit.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        reset_postgres(url)
    eng = make_engine(url)
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def buffer(engine: Engine) -> Iterator[AuditBuffer]:
    buf = AuditBuffer(engine, interval=HOUR)
    yield buf
    buf.close()


def entry(**changes: Any) -> AuditEntry:
    values: dict[str, Any] = {
        "at": T0,
        "actor": "alice",
        "credential_id": "chp_abcdef",
        "package": "acme/shop",
        "action": "pull",
        "result": "allowed",
        "gate": None,
        "reason": "owner",
    }
    values.update(changes)
    return AuditEntry(**values)


def rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(s.audit_log).order_by("id"))]


def make_user_and_pat(engine: Engine, login: str = "alice") -> tuple[str, str]:
    with write(engine) as conn:
        user_id = service.create_account(conn, login, "user")
        return credentials.create_pat(conn, KEYS, user_id, frozenset({"read:packages"}), None)


def last_used(engine: Engine, cred_id: str) -> datetime | None:
    with engine.connect() as conn:
        at = conn.execute(
            select(s.credentials.c.last_used_at).where(s.credentials.c.id == cred_id)
        ).scalar_one()
    return aware(at)


def test_record_and_query_newest_first_filtered(engine: Engine) -> None:
    with write(engine) as conn:
        record(conn, [])  # nothing to write is not an error
        record(
            conn,
            [
                entry(package="acme/a"),
                entry(package="acme/b", at=T0 + timedelta(seconds=1)),
                entry(package="acme/a", at=T0 + timedelta(seconds=2), result="denied"),
            ],
        )
    with engine.connect() as conn:
        everything = query(conn)
        only_a = query(conn, "acme/a")
        newest = query(conn, limit=1)
    assert [e["package"] for e in everything] == ["acme/a", "acme/b", "acme/a"]
    assert [e["result"] for e in only_a] == ["denied", "allowed"]
    assert len(newest) == 1 and newest[0]["result"] == "denied"
    # JSON-ready: times are ISO strings with their UTC offset, on SQLite too.
    assert everything[-1]["at"] == T0.isoformat()
    assert everything[-1]["count"] == 1


def test_service_recent_reads_through_the_database(engine: Engine) -> None:
    with write(engine) as conn:
        record(conn, [entry(package="acme/a"), entry(package="acme/b")])
    db = Database(engine, 1)
    try:
        found = asyncio.run(AuditService(db).recent("acme/b", 10))
    finally:
        db.close()
    assert [(e["package"], e["actor"]) for e in found] == [("acme/b", "alice")]


def test_nothing_is_written_before_a_flush(engine: Engine, buffer: AuditBuffer) -> None:
    buffer.add(entry())
    assert rows(engine) == []
    buffer.flush()
    assert len(rows(engine)) == 1


def test_identical_allowed_decisions_collapse_into_one_counted_row(
    engine: Engine, buffer: AuditBuffer
) -> None:
    for i in range(40):  # a client pulling 40 layers
        buffer.add(entry(at=T0 + timedelta(seconds=i)))
    buffer.flush()
    (row,) = rows(engine)
    assert row["count"] == 40
    assert aware(row["at"]) == T0  # the time of the first


def test_identical_denials_collapse_too_and_none_is_lost(
    engine: Engine, buffer: AuditBuffer
) -> None:
    denied = {"actor": "anonymous", "credential_id": None, "result": "denied", "gate": "visibility"}
    for i in range(25):  # anonymous traffic hammering a private package
        buffer.add(entry(at=T0 + timedelta(seconds=i), reason="private", **denied))
    buffer.add(entry(at=T0 + timedelta(seconds=30), reason="other", **denied))
    buffer.add(entry(at=T0 + timedelta(seconds=31)))  # one allowed among them
    buffer.flush()
    found = rows(engine)
    denials = [r for r in found if r["result"] == "denied"]
    assert sorted((r["reason"], r["count"]) for r in denials) == [("other", 1), ("private", 25)]
    assert sum(r["count"] for r in found) == 27  # every decision is counted
    assert len(found) == 3


@pytest.mark.parametrize(
    "change",
    [
        {"actor": "bob"},
        {"credential_id": "chp_zzzzzz"},
        {"package": "acme/other"},
        {"action": "push"},
        {"result": "denied"},
        {"gate": "scope"},
        {"reason": "collaborator"},
    ],
)
def test_decisions_differing_in_any_field_keep_their_own_rows(
    engine: Engine, buffer: AuditBuffer, change: dict[str, Any]
) -> None:
    buffer.add(entry())
    buffer.add(entry(at=T0 + timedelta(seconds=1), **change))
    buffer.flush()
    assert [r["count"] for r in rows(engine)] == [1, 1]


def test_rows_are_written_in_time_order(engine: Engine, buffer: AuditBuffer) -> None:
    buffer.add(entry(package="acme/late", at=T0 + timedelta(seconds=5)))
    buffer.add(entry(package="acme/early", at=T0))
    buffer.flush()
    assert [r["package"] for r in rows(engine)] == ["acme/early", "acme/late"]


def test_each_flush_window_gets_its_own_row(engine: Engine, buffer: AuditBuffer) -> None:
    buffer.add(entry())
    buffer.flush()
    buffer.add(entry(at=T0 + timedelta(seconds=1)))
    buffer.add(entry(at=T0 + timedelta(seconds=2)))
    buffer.flush()
    assert [r["count"] for r in rows(engine)] == [1, 2]
    buffer.flush()  # an empty window writes nothing
    assert len(rows(engine)) == 2


def test_close_flushes_what_is_pending(engine: Engine) -> None:
    buf = AuditBuffer(engine, interval=HOUR)
    buf.add(entry())
    buf.add(entry(result="denied", gate="scope", reason="no scope"))
    buf.close()
    assert sorted(r["result"] for r in rows(engine)) == ["allowed", "denied"]


def test_a_full_batch_is_written_by_the_thread(engine: Engine) -> None:
    # batch=2: the second distinct decision wakes the flush thread; close() then joins it.
    buf = AuditBuffer(engine, interval=HOUR, batch=2)
    buf.add(entry(package="acme/a"))
    buf.add(entry(package="acme/b"))
    buf.close()
    assert sorted(r["package"] for r in rows(engine)) == ["acme/a", "acme/b"]


def test_a_failing_write_does_not_raise(tmp_path: Path) -> None:
    # No migration: the table is missing. The registry must keep serving; the error is logged.
    eng = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    buf = AuditBuffer(eng, interval=HOUR)
    try:
        buf.add(entry())
        buf.flush()
    finally:
        buf.close()
        eng.dispose()


def test_retention_deletes_only_rows_older_than_the_window(engine: Engine) -> None:
    now = datetime.now(UTC)
    with write(engine) as conn:
        record(
            conn,
            [
                entry(package="acme/old", at=now - timedelta(days=10)),
                entry(package="acme/older", at=now - timedelta(days=400)),
                entry(package="acme/recent", at=now - timedelta(days=6)),
            ],
        )
    buf = AuditBuffer(engine, interval=HOUR, retention=timedelta(days=7))
    try:
        buf.add(entry(package="acme/new", at=now))
        buf.flush()
    finally:
        buf.close()
    assert sorted(r["package"] for r in rows(engine)) == ["acme/new", "acme/recent"]


def test_without_retention_everything_is_kept(engine: Engine, buffer: AuditBuffer) -> None:
    with write(engine) as conn:
        record(conn, [entry(package="acme/ancient", at=T0 - timedelta(days=4000))])
    buffer.add(entry())
    buffer.flush()
    assert len(rows(engine)) == 2


def test_flush_records_when_a_credential_was_last_used(engine: Engine, buffer: AuditBuffer) -> None:
    cred_id, _ = make_user_and_pat(engine)
    assert last_used(engine, cred_id) is None
    buffer.add(entry(credential_id=cred_id, at=T0))
    buffer.add(entry(credential_id=cred_id, at=T0 + timedelta(minutes=5)))  # collapsed
    buffer.flush()
    assert last_used(engine, cred_id) == T0 + timedelta(minutes=5)  # the last, not the first


def test_last_used_is_the_latest_over_all_of_a_credentials_decisions(
    engine: Engine, buffer: AuditBuffer
) -> None:
    cred_id, _ = make_user_and_pat(engine)
    buffer.add(entry(credential_id=cred_id, package="acme/a", at=T0 + timedelta(minutes=10)))
    buffer.add(entry(credential_id=cred_id, package="acme/b", at=T0 + timedelta(minutes=1)))
    buffer.add(entry(credential_id=None, actor="anonymous", at=T0 + timedelta(hours=1)))
    buffer.flush()
    assert last_used(engine, cred_id) == T0 + timedelta(minutes=10)


def test_a_refused_authentication_is_not_a_use(engine: Engine, buffer: AuditBuffer) -> None:
    # A wrong secret naming a real credential id must not make the credential look in use.
    cred_id, _ = make_user_and_pat(engine)
    buffer.add(
        entry(
            actor="unauthenticated",
            credential_id=cred_id,
            result="denied",
            gate="authentication",
            reason="bad credentials",
        )
    )
    buffer.flush()
    assert last_used(engine, cred_id) is None
    assert rows(engine)[0]["credential_id"] == cred_id


def test_touch_never_moves_last_used_backwards(engine: Engine) -> None:
    cred_id, _ = make_user_and_pat(engine)
    with write(engine) as conn:
        touch(conn, {cred_id: T0 + timedelta(hours=1)})
    with write(engine) as conn:
        touch(conn, {cred_id: T0})
    assert last_used(engine, cred_id) == T0 + timedelta(hours=1)
    with write(engine) as conn:
        touch(conn, {cred_id: T0 + timedelta(hours=2), "chp_nosuch": T0})  # unknown: ignored
    assert last_used(engine, cred_id) == T0 + timedelta(hours=2)


def test_no_secret_ever_reaches_a_row(engine: Engine, buffer: AuditBuffer) -> None:
    # Real decisions, through authentication and authorize(), for a token that may and one
    # that may not pull: every row names the credential by its public id only.
    cred_id, secret = make_user_and_pat(engine, "alice")
    _, other_secret = make_user_and_pat(engine, "mallory")
    with write(engine) as conn:
        service.create_repo(conn, "alice/shop")
    for presented in (secret, other_secret):
        with engine.connect() as conn:
            db = Reader.over(conn)
            identity = credentials.authenticate_secret(db, KEYS, presented, "localhost")
            for action in (Action.PULL, Action.PUSH, Action.DELETE):
                with contextlib.suppress(DeniedError, UnauthorizedError):
                    authorize(
                        db,
                        identity,
                        action,
                        "alice/shop",
                        base_url="http://localhost",
                        audit=buffer.add,
                    )
    buffer.flush()
    found = rows(engine)
    assert {r["credential_id"] for r in found} >= {cred_id}
    assert any(r["result"] == "denied" for r in found)
    cells = " ".join(str(v) for r in found for v in r.values())
    for leaked in (secret, other_secret):
        assert leaked not in cells
        assert leaked[len(cred_id) :] not in cells  # not even the part after the public id
