"""Where database and blocking work runs, for every domain service.

    read_on_loop(fn)  hot-path reads, inline ON THE EVENT-LOOP THREAD, on its own DBAPI connection
                      (one read transaction, ~15 us a query); never for writes or slow work
    write(fn)         one write transaction (SQLAlchemy Core) on a DB worker thread
    blocking(fn)      blocking work (storage I/O, hashing) on a worker thread

Reads stay on the loop on purpose: a thread hop costs more than the reads, and several DB threads
contending for the GIL and SQLite's WAL locks made small requests 40% slower.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from cargohold.db import tx
from cargohold.db.raw import ReadConnection, Reader

T = TypeVar("T")

# PostgreSQL's deadlock_detected and serialization_failure: the server rolled the transaction
# back so another could go on; running it again is the documented answer.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
WRITE_ATTEMPTS = 5


def retryable(exc: DBAPIError) -> bool:
    """Whether the database aborted the transaction only to break a deadlock or a
    serialization conflict (nothing of it was written)."""
    return getattr(exc.orig, "sqlstate", None) in RETRYABLE_SQLSTATES


class Database:
    """One engine, the loop thread's read connection and a pool of worker threads."""

    def __init__(self, engine: Engine, threads: int) -> None:
        self.engine = engine
        self.reads = ReadConnection(engine)
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="cargohold")

    def read_on_loop(self, fn: Callable[[Reader], T]) -> T:
        """Run ``fn`` inline, on the calling (event-loop) thread, in one read transaction."""
        with self.reads.session() as reader:
            return fn(reader)

    async def write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in one write transaction on a DB worker thread."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, self._write, fn)

    async def blocking(self, fn: Callable[[], T]) -> T:
        """Run blocking work (storage I/O, hashing) on a worker thread."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn)

    def _write(self, fn: Callable[[Connection], T]) -> T:
        """One transaction; run again (with a short random back-off) when PostgreSQL aborted it
        to break a deadlock between concurrent writers. ``fn`` only touches the database, so a
        rolled-back attempt left nothing behind."""
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                with tx.write(self.engine) as conn:
                    return fn(conn)
            except DBAPIError as exc:
                if attempt == WRITE_ATTEMPTS or not retryable(exc):
                    raise
                time.sleep(random.uniform(0.005, 0.05) * attempt)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        self.reads.close()
        self.engine.dispose()
