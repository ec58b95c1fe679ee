"""Hot-path reads in plain SQL on the DBAPI connection.

Every registry request reads a handful of rows (credential, package state, manifest). Through
SQLAlchemy Core each statement costs ~150 us of Python here; on the raw DBAPI connection the
same read costs ~15 us. So reads on the request path are plain, portable SQL with ``:name``
parameters, run through a ``Reader``; writes keep SQLAlchemy Core in ``tx.write``.

A ``Reader`` wraps a DBAPI connection: the event loop's own (``ReadConnection.session``, one
read transaction), or the connection under an open SQLAlchemy transaction (``Reader.over``), so
the same query functions serve both.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine

_PARAM = re.compile(r"(?<!:):([a-z_][a-z0-9_]*)")


@lru_cache(maxsize=256)
def _pyformat(sql: str) -> str:
    """``:name`` -> ``%(name)s`` for psycopg (literal ``%`` doubled first)."""
    return _PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))


class Reader:
    """Runs plain SQL on one DBAPI connection; rows are tuples."""

    __slots__ = ("_conn", "_pg")

    def __init__(self, dbapi_conn: Any, postgres: bool) -> None:
        self._conn = dbapi_conn
        self._pg = postgres

    @classmethod
    def over(cls, conn: Connection) -> Reader:
        """A reader inside ``conn``'s open transaction."""
        return cls(conn.connection.driver_connection, conn.dialect.name == "postgresql")

    def all(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        cur = self._conn.cursor()
        try:
            cur.execute(_pyformat(sql) if self._pg else sql, params)
            return list(cur.fetchall())
        finally:
            cur.close()

    def one(self, sql: str, **params: Any) -> tuple[Any, ...] | None:
        rows = self.all(sql, **params)
        return rows[0] if rows else None

    def scalar(self, sql: str, **params: Any) -> Any:
        row = self.one(sql, **params)
        return None if row is None else row[0]

    def in_list(self, prefix: str, values: list[Any] | set[Any]) -> tuple[str, dict[str, Any]]:
        """``prefix IN (:p0, :p1, ...)`` and its parameters, for a non-empty collection."""
        names = {f"p{i}": v for i, v in enumerate(sorted(values))}
        return f"{prefix} IN ({', '.join(':' + n for n in names)})", names


class ReadConnection:
    """One DBAPI connection kept by the event-loop thread for hot-path reads.

    Checking a connection out of the pool and back costs as much as the reads themselves, so
    the loop thread keeps one (it runs one request's reads at a time). Each ``session`` is one
    read transaction. A connection that fails is invalidated and replaced on next use. Not for
    use from other threads: they take their own from the pool.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._raw: Any = None

    @contextmanager
    def session(self) -> Iterator[Reader]:
        raw = self._raw
        if raw is None:
            raw = self._raw = self._engine.raw_connection()
        try:
            if not self._postgres:
                raw.driver_connection.execute("BEGIN")
            yield Reader(raw.driver_connection, self._postgres)
        finally:
            try:
                raw.rollback()
                healthy = not _broken(raw.driver_connection)
            except Exception:
                healthy = False
            if not healthy:
                # The server went away (restart, failover): drop this connection so the next
                # request takes a fresh one from the (pre-pinging) pool; whatever the body
                # raised propagates and the web layer answers 503.
                self._raw = None
                raw.invalidate()

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()
            self._raw = None


def _broken(dbapi_conn: Any) -> bool:
    """psycopg marks a connection whose server went away ``broken``/``closed``; sqlite3 has
    neither attribute."""
    return bool(getattr(dbapi_conn, "broken", False)) or getattr(dbapi_conn, "closed", 0) is True


def timestamp(value: Any) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite hands back text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
