"""Garbage collection as one call (``collect``) and as a background task any replica runs.

Every replica may run ``run_periodically``: the lease in the database (``registry.gc``) lets one
collection run at a time, the others find it held and skip that round.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from cargohold.db.runner import Database
from cargohold.registry.gc import Collector, GcReport
from cargohold.storage.protocol import BlobStore

log = logging.getLogger(__name__)


class GcService:
    def __init__(
        self,
        db: Database,
        store: BlobStore,
        grace: timedelta,
        restore_window: timedelta | None = None,
    ) -> None:
        self._db = db
        self._store = store
        self._grace = grace
        self._restore_window = restore_window

    def collector(self) -> Collector:
        return Collector(
            self._db.engine, self._store, self._grace, restore_window=self._restore_window
        )

    async def collect(self, dry_run: bool = False) -> GcReport:
        """One collection (or, with ``dry_run``, what it would remove); ``ran`` is False when
        another replica's collection holds the lease."""
        collector = self.collector()
        return await self._db.blocking(lambda: collector.collect(dry_run))

    async def run_periodically(self, every: float) -> None:
        """Collect every ``every`` seconds until cancelled; a failed round is logged and the
        next one tries again (a collection never takes the server down)."""
        while True:
            await asyncio.sleep(every)
            try:
                report = await self.collect()
            except Exception:
                log.exception("garbage collection failed")
                continue
            if report.ran and (report.manifests or report.links or report.blobs or report.orphans):
                log.info("garbage collection: %s", report.as_dict())
