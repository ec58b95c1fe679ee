"""The audit log: every authorization decision, allowed or denied.

Writes are batched, and so is each credential's last-used time: a decision is appended to an
in-process buffer and flushed to the database by a background thread every ``interval`` seconds
or ``batch`` entries, and at shutdown. This keeps a DB write off every registry request (the
benchmark's small requests would otherwise pay a commit each) at the cost of at most
``interval`` seconds of entries if the process is killed hard.

Identical decisions within one flush window (same actor, credential, package, action, result,
gate and reason: a client pulling 40 layers, a poller, anonymous traffic hammering a private
package) are written as one row with ``count`` and the time of the first, allowed and denied
alike, so no caller can grow the log faster than one row per distinct decision per window.
Rows older than the retention (setting ``audit_retention_days``; 0 keeps everything) are
deleted by the same thread, at most once an hour.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, select, update

from cargohold.db import schema as s
from cargohold.db.runner import Database
from cargohold.db.tx import aware, write

log = logging.getLogger("cargohold.audit")

PRUNE_EVERY = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    actor: str
    credential_id: str | None
    package: str | None
    action: str
    result: str  # "allowed" | "denied"
    gate: str | None
    reason: str | None
    count: int = 1


def record(conn: Connection, entries: list[AuditEntry]) -> None:
    if entries:
        conn.execute(
            s.audit_log.insert(),
            [
                {
                    "at": e.at,
                    "actor": e.actor,
                    "credential_id": e.credential_id,
                    "package": e.package,
                    "action": e.action,
                    "result": e.result,
                    "gate": e.gate,
                    "reason": e.reason,
                    "count": e.count,
                }
                for e in entries
            ],
        )


def query(conn: Connection, package: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The newest ``limit`` entries (of ``package``), newest first, as JSON-ready dicts."""
    t = s.audit_log.c
    q = select(s.audit_log).order_by(t.id.desc()).limit(limit)
    if package is not None:
        q = q.where(t.package == package)
    out = []
    for row in conn.execute(q):
        item = dict(row._mapping)
        at = aware(item["at"])
        item["at"] = at.isoformat() if at is not None else None
        out.append(item)
    return out


class AuditService:
    """Reading the audit log (writing goes through ``AuditBuffer``)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def recent(self, package: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """The newest ``limit`` decisions (about ``package``), newest first."""
        return await self._db.write(lambda c: query(c, package, limit))


def touch(conn: Connection, last_used: dict[str, datetime]) -> None:
    """Record when credentials were last used (batched with the audit entries)."""
    c = s.credentials.c
    for cred_id, at in last_used.items():
        conn.execute(
            update(s.credentials)
            .where(c.id == cred_id, (c.last_used_at.is_(None)) | (c.last_used_at < at))
            .values(last_used_at=at)
        )


class AuditBuffer:
    """Batches audit entries into the database from a background thread."""

    def __init__(
        self,
        engine: Engine,
        *,
        interval: float = 0.5,
        batch: int = 500,
        retention: timedelta | None = None,
    ) -> None:
        self._engine = engine
        self._interval = interval
        self._batch = batch
        self._retention = retention
        self._pruned_at: datetime | None = None
        # Decisions keyed by everything but the time: [first entry, count, time of the last].
        self._pending: dict[tuple[Any, ...], list[Any]] = {}
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # flush() returns only when earlier entries are in
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-flush", daemon=True)
        self._thread.start()

    def add(self, entry: AuditEntry) -> None:
        key = (
            entry.actor,
            entry.credential_id,
            entry.package,
            entry.action,
            entry.result,
            entry.gate,
            entry.reason,
        )
        with self._lock:
            slot = self._pending.get(key)
            if slot is None:
                self._pending[key] = [entry, 1, entry.at]
            else:
                slot[1] += 1
                slot[2] = entry.at
            full = len(self._pending) >= self._batch
        if full:
            self._wake.set()

    def flush(self) -> None:
        with self._flushing:
            with self._lock:
                pending, self._pending = self._pending, {}
            entries = [replace(entry, count=n) for entry, n, _ in pending.values()]
            last_used: dict[str, datetime] = {}
            for entry, _, last in pending.values():
                if entry.credential_id is not None and entry.gate != "authentication":
                    last_used[entry.credential_id] = max(
                        last, last_used.get(entry.credential_id, last)
                    )
            try:
                with write(self._engine) as conn:
                    record(conn, sorted(entries, key=lambda e: e.at))
                    touch(conn, last_used)
                    self._prune(conn)
            except Exception:  # the audit must never take the registry down with it
                log.exception("could not write %d audit entries", len(entries))

    def _prune(self, conn: Connection) -> None:
        if self._retention is None:
            return
        at = datetime.now(UTC)
        if self._pruned_at is not None and at - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = at
        conn.execute(delete(s.audit_log).where(s.audit_log.c.at < at - self._retention))

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            self.flush()

    def close(self) -> None:
        self._stopped.set()
        self._wake.set()
        self._thread.join(timeout=5)
        self.flush()
