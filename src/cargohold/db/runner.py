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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import Connection, Engine

from cargohold.db import tx
from cargohold.db.raw import ReadConnection, Reader

T = TypeVar("T")


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
        with tx.write(self.engine) as conn:
            return fn(conn)

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        self.reads.close()
        self.engine.dispose()
