"""Hot-path reads: SQLAlchemy Core statements compiled once, run on the DBAPI connection.

Every registry request reads a handful of rows (credential, package state, manifest). Executed
through SQLAlchemy each statement costs ~150 us of Python here; on the raw DBAPI connection the
same read costs ~15 us. So the statements are built from the schema (``cargohold.db.queries``,
the one module that knows it), compiled once per dialect (``Statement``: SQL text plus the
order of its parameters), and run on the DBAPI connection through a ``Reader``. Rows come back
named (``row.visibility``, never ``row[6]``), so a renamed column fails loudly where the
statement is built. Writes keep SQLAlchemy Core in ``tx.write``, except the few a chunked upload
makes on every request (claim, renew, advance, release: ~0.25 ms of Python each through
SQLAlchemy, ~10 us here), which are ``Statement``\\ s too, run by a ``Writer`` inside the
``tx.write`` transaction. Parameters go through the column types' bind processors, as
SQLAlchemy would send them (SQLite stores a time as text).

A ``Reader`` wraps a DBAPI connection: the event loop's own (``ReadConnection.session``, one
read transaction), or the connection under an open SQLAlchemy transaction (``Reader.over``), so
the same query functions serve both.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.selectable import SelectBase


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    order: tuple[str, ...] | None  # parameter names in order (positional styles), else None
    row: Callable[[tuple[Any, ...]], Any]  # tuple -> named row
    fixed: Mapping[str, Any]  # values written into the statement (``id == 1``)
    convert: Mapping[str, Callable[[Any], Any]]  # bind processors of the parameters that have one


class Statement:
    """A SELECT (or, for ``Writer``, an UPDATE/INSERT/DELETE) built from the schema, compiled
    once per dialect and cached.

    ``build`` returns the statement with ``bindparam("name")`` parameters; it runs once per
    dialect, at first use, so a column that no longer exists raises there, with its name.
    """

    __slots__ = ("_build", "_by_dialect", "name")

    def __init__(self, name: str, build: Callable[[], SelectBase | UpdateBase]) -> None:
        self.name = name
        self._build = build
        self._by_dialect: dict[str, _Compiled] = {}

    def compiled(self, dialect: Dialect) -> _Compiled:
        found = self._by_dialect.get(dialect.name)
        if found is None:
            stmt = self._build()
            compiled = stmt.compile(dialect=dialect)
            order = tuple(compiled.positiontup or ()) if compiled.positional else None
            columns = stmt.selected_columns if isinstance(stmt, SelectBase) else ()
            row_type = namedtuple(f"{self.name}_row", [str(c.key) for c in columns])  # type: ignore[misc]
            fixed = {n: b.value for n, b in compiled.binds.items() if not b.required}
            convert = {
                n: proc
                for n, b in compiled.binds.items()
                if (proc := b.type.dialect_impl(dialect).bind_processor(dialect)) is not None
            }
            found = _Compiled(str(compiled), order, row_type._make, fixed, convert)
            self._by_dialect[dialect.name] = found
        return found

    def arguments(
        self, dialect: Dialect, params: Mapping[str, Any]
    ) -> tuple[_Compiled, Mapping[str, Any] | tuple[Any, ...]]:
        """The compiled statement and ``params`` as its DBAPI arguments."""
        c = self.compiled(dialect)
        if c.fixed:
            params = {**c.fixed, **params}
        if c.convert:
            params = {n: (c.convert[n](v) if n in c.convert else v) for n, v in params.items()}
        return c, (params if c.order is None else tuple(params[name] for name in c.order))


class Reader:
    """Runs ``Statement``\\ s on one DBAPI connection; rows are named tuples."""

    __slots__ = ("_conn", "_dialect")

    def __init__(self, dbapi_conn: Any, dialect: Dialect) -> None:
        self._conn = dbapi_conn
        self._dialect = dialect

    @classmethod
    def over(cls, conn: Connection) -> Self:
        """A reader inside ``conn``'s open transaction."""
        return cls(conn.connection.driver_connection, conn.dialect)

    def all(self, stmt: Statement, **params: Any) -> list[Any]:
        c, args = stmt.arguments(self._dialect, params)
        cur = self._conn.cursor()
        try:
            cur.execute(c.sql, args)
            return [c.row(r) for r in cur.fetchall()]
        finally:
            cur.close()

    def one(self, stmt: Statement, **params: Any) -> Any | None:
        rows = self.all(stmt, **params)
        return rows[0] if rows else None

    def scalar(self, stmt: Statement, **params: Any) -> Any:
        row = self.one(stmt, **params)
        return None if row is None else row[0]


class Writer(Reader):
    """A ``Reader`` that also runs DML ``Statement``\\ s; only ever ``over`` a write
    transaction (``tx.write``), which commits or rolls back what it changed."""

    __slots__ = ()

    def change(self, stmt: Statement, **params: Any) -> int:
        """Run an UPDATE/INSERT/DELETE; the number of rows it changed."""
        c, args = stmt.arguments(self._dialect, params)
        cur = self._conn.cursor()
        try:
            cur.execute(c.sql, args)
            return int(cur.rowcount)
        finally:
            cur.close()


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
            yield Reader(raw.driver_connection, self._engine.dialect)
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
