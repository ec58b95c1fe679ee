"""The audit log: every authorization decision, allowed or denied.

Writes are batched, and so is each credential's last-used time: a decision is appended to an
in-process buffer and flushed to the database by a background thread every ``interval`` seconds
or ``batch`` entries, and at shutdown. This keeps a DB write off every registry request (the
benchmark's small requests would otherwise pay a commit each) at the cost of at most
``interval`` seconds of entries if the process is killed hard. Denials are flushed at once:
they are the entries people come looking for.

Identical *allowed* decisions within one flush window (same actor, credential, package, action
and reason: a client pulling 40 layers, a poller) are written as one row with ``count`` and the
time of the first; every denial is its own row.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from cargohold.db import schema as s
from cargohold.db.runner import Database
from cargohold.db.tx import aware, write

log = logging.getLogger("cargohold.audit")


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

    def __init__(self, engine: Engine, *, interval: float = 0.5, batch: int = 500) -> None:
        self._engine = engine
        self._interval = interval
        self._batch = batch
        # Allowed decisions keyed by everything but the time, with their count; denials apart.
        self._allowed: dict[tuple[Any, ...], list[Any]] = {}
        self._denied: list[AuditEntry] = []
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # flush() returns only when earlier entries are in
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-flush", daemon=True)
        self._thread.start()

    def add(self, entry: AuditEntry) -> None:
        denied = entry.result == "denied"
        with self._lock:
            if denied:
                self._denied.append(entry)
            else:
                key = (entry.actor, entry.credential_id, entry.package, entry.action, entry.reason)
                slot = self._allowed.get(key)
                if slot is None:
                    self._allowed[key] = [entry, 1, entry.at]
                else:
                    slot[1] += 1
                    slot[2] = entry.at
            full = len(self._allowed) + len(self._denied) >= self._batch
        if full or denied:
            self._wake.set()

    def flush(self) -> None:
        with self._flushing:
            with self._lock:
                allowed, self._allowed = self._allowed, {}
                denied, self._denied = self._denied, []
            entries = [replace(entry, count=n) for entry, n, _ in allowed.values()] + denied
            if not entries:
                return
            last_used: dict[str, datetime] = {}
            for entry, _, last in allowed.values():
                if entry.credential_id is not None:
                    last_used[entry.credential_id] = last
            for entry in denied:
                if entry.credential_id is not None:
                    last_used.setdefault(entry.credential_id, entry.at)
            try:
                with write(self._engine) as conn:
                    record(conn, sorted(entries, key=lambda e: e.at))
                    touch(conn, last_used)
            except Exception:  # the audit must never take the registry down with it
                log.exception("could not write %d audit entries", len(entries))

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
