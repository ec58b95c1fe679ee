"""Every hot-path statement compiles on both dialects and runs against the migrated schema."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, bindparam, select
from sqlalchemy.exc import CompileError

from cargohold.db import queries
from cargohold.db.engine import make_engine, migrate
from cargohold.db.raw import ReadConnection, Statement
from support.db import reset_postgres

INTS = {"p", "id", "r", "n", "linked", "publisher", "uid", "rid", "owner", "o", "t"}
STATEMENTS = {name: value for name, value in vars(queries).items() if isinstance(value, Statement)}


def _run_all(url: str) -> dict[str, list[object]]:
    engine = make_engine(url)
    migrate(engine)
    reads = ReadConnection(engine)
    out: dict[str, list[object]] = {}
    try:
        with reads.session() as db:
            for name, stmt in STATEMENTS.items():
                compiled = stmt.compiled(engine.dialect)
                names = compiled.order or tuple(re.findall(r"%\((\w+)\)s", compiled.sql))
                params = {n: (1 if n in INTS else "x") for n in names if n not in compiled.fixed}
                out[name] = db.all(stmt, **params)
    finally:
        reads.close()
        engine.dispose()
    return out


def test_every_statement_runs_on_sqlite(tmp_path: Path) -> None:
    results = _run_all(f"sqlite:///{tmp_path / 'q.db'}")
    assert set(results) == set(STATEMENTS)
    assert results["AUTHZ_VERSION"][0].version == 0  # named rows, fixed binds filled in


@pytest.mark.postgres
def test_every_statement_runs_on_postgres(postgres_url: str) -> None:
    reset_postgres(postgres_url)
    results = _run_all(postgres_url)
    assert results["AUTHZ_VERSION"][0].version == 0


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
