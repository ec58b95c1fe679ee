"""Creating a package on first push, when two replicas push the same new name at once."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from cargohold.db import schema as s
from cargohold.db import tx
from cargohold.db.engine import make_engine, migrate
from cargohold.registry import packages
from support.db import reset_postgres


def test_concurrent_creates_of_one_name_give_one_package_on_postgres(postgres_url: str) -> None:
    reset_postgres(postgres_url)
    engine = make_engine(postgres_url)
    try:
        migrate(engine)
        with tx.write(engine) as conn:
            owner = int(
                conn.execute(
                    s.accounts.insert().values(login="acme", kind="org", created_at=tx.now())
                ).inserted_primary_key[0]  # type: ignore[index]
            )
        results: list[int] = []
        errors: list[BaseException] = []
        first_inserted = threading.Event()

        def second() -> None:
            try:
                # Starts while the first transaction holds its uncommitted row: both found no
                # package, so this INSERT waits on the unique name, then conflicts.
                first_inserted.wait(10)
                with tx.write(engine) as conn:
                    results.append(packages.create(conn, "acme/new", owner=owner).id)
            except BaseException as exc:  # reported below
                errors.append(exc)

        other = threading.Thread(target=second)
        other.start()
        with tx.write(engine) as conn:
            results.append(packages.create(conn, "acme/new", owner=owner).id)
            first_inserted.set()
            other.join(0.5)  # the second is now blocked on our row
        other.join(10)
        assert not errors, errors
        assert len(results) == 2 and results[0] == results[1]
        with engine.connect() as conn:
            count = conn.execute(
                select(func.count()).select_from(s.packages).where(s.packages.c.name == "acme/new")
            ).scalar_one()
        assert count == 1
    finally:
        engine.dispose()
