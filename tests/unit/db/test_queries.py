"""Every hot-path statement compiles on both dialects and runs against the migrated schema."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, bindparam, select
from sqlalchemy.exc import CompileError

from cargohold.db import queries, tx
from cargohold.db.engine import make_engine, migrate
from cargohold.db.raw import ReadConnection, Statement, Writer
from support.db import reset_postgres

INTS = {"p", "id", "r", "n", "linked", "publisher", "uid", "rid", "owner", "o", "t"}
INTS |= {"size", "new_size", "package_id"}
TIMES = {"at"}
STATEMENTS = {name: value for name, value in vars(queries).items() if isinstance(value, Statement)}
WRITES = {name for name in STATEMENTS if name.startswith("UPLOAD_") and name != "UPLOAD_ROW"}


def _value(name: str) -> object:
    if name in TIMES:
        return datetime.now(UTC)
    return 1 if name in INTS else "x"


def _run_all(url: str) -> dict[str, object]:
    engine = make_engine(url)
    migrate(engine)
    reads = ReadConnection(engine)
    out: dict[str, object] = {}

    def params(stmt: Statement) -> dict[str, object]:
        compiled = stmt.compiled(engine.dialect)
        names = compiled.order or tuple(re.findall(r"%\((\w+)\)s", compiled.sql))
        return {n: _value(n) for n in names if n not in compiled.fixed}

    try:
        with reads.session() as db:
            for name, stmt in STATEMENTS.items():
                if name not in WRITES:
                    out[name] = db.all(stmt, **params(stmt))
        with tx.write(engine) as conn:
            for name in WRITES:
                stmt = STATEMENTS[name]
                out[name] = Writer.over(conn).change(stmt, **params(stmt))
    finally:
        reads.close()
        engine.dispose()
    return out


def test_every_statement_runs_on_sqlite(tmp_path: Path) -> None:
    results = _run_all(f"sqlite:///{tmp_path / 'q.db'}")
    assert set(results) == set(STATEMENTS)
    assert results["AUTHZ_VERSION"][0].version == 0  # type: ignore[index]  # named rows, fixed binds
    assert all(results[name] == 0 for name in WRITES)  # row counts: no session matched


@pytest.mark.postgres
def test_every_statement_runs_on_postgres(postgres_url: str) -> None:
    reset_postgres(postgres_url)
    results = _run_all(postgres_url)
    assert results["AUTHZ_VERSION"][0].version == 0  # type: ignore[index]
    assert all(results[name] == 0 for name in WRITES)


def test_a_missing_column_fails_at_the_statement_by_name() -> None:
    table = Table("t", MetaData(), Column("id", Integer))
    stmt = Statement("broken", lambda: select(table.c.renamed))
    with pytest.raises(AttributeError, match="renamed"):
        stmt.compiled(make_engine("sqlite://").dialect)


def test_duplicate_result_names_are_refused() -> None:
    table = Table("t", MetaData(), Column("id", Integer))
    stmt = Statement("dupes", lambda: select(table.c.id, table.c.id.label("id")))
    with pytest.raises((ValueError, CompileError)):
        stmt.compiled(make_engine("sqlite://").dialect)


def test_a_row_is_read_by_name() -> None:
    table = Table("t", MetaData(), Column("id", Integer), Column("size", Integer))
    stmt = Statement("named", lambda: select(table.c.size).where(table.c.id == bindparam("id")))
    compiled = stmt.compiled(make_engine("sqlite://").dialect)
    assert compiled.order == ("id",)
    assert compiled.row((5,)).size == 5
