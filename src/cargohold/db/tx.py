"""Write transactions (reads on the request path go through ``cargohold.db.raw``).

``write(engine)`` opens a write transaction. On SQLite it starts with ``BEGIN IMMEDIATE`` so
two processes never deadlock upgrading read locks; on PostgreSQL it is a plain transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert


@contextmanager
def write(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        conn.info["write"] = True
        try:
            with conn.begin():
                yield conn
        finally:
            conn.info["write"] = False


def now() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; every stored time is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def insert_ignore(conn: Connection, table: Table, **values: Any) -> bool:
    """INSERT that does nothing when the primary key or a unique key exists.

    Returns True when a row was inserted. Portable over SQLite and PostgreSQL.
    """
    stmt: Any
    if conn.dialect.name == "postgresql":
        stmt = pg_insert(table).values(**values).on_conflict_do_nothing()
    else:
        stmt = sqlite_insert(table).values(**values).on_conflict_do_nothing()
    # RETURNING, not rowcount: psycopg reports rowcount -1 for this statement.
    return conn.execute(stmt.returning(*table.primary_key.columns)).first() is not None


def upsert(conn: Connection, table: Table, keys: tuple[str, ...], **values: Any) -> None:
    """INSERT, or UPDATE the non-key columns when the key exists."""
    stmt: Any
    changes = {k: v for k, v in values.items() if k not in keys}
    if conn.dialect.name == "postgresql":
        stmt = pg_insert(table).values(**values)
    else:
        stmt = sqlite_insert(table).values(**values)
    conn.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=changes))
