"""The audit log: every authorization decision, allowed or denied.

Writes are batched, and so is each credential's last-used time: a decision is appended to an
in-process buffer and flushed to the database by a background thread every ``interval`` seconds
or ``batch`` entries, and at shutdown. This keeps a DB write off every registry request (the
benchmark's small requests would otherwise pay a commit each) at the cost of at most
``interval`` seconds of entries if the process is killed hard. Denials are flushed at once:
they are the entries people come looking for.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from cargohold.accounts.credentials import touch
from cargohold.db import schema as s
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


def record(conn: Connection, entries: list[AuditEntry]) -> None:
    if entries:
        conn.execute(s.audit_log.insert(), [asdict(e) for e in entries])


def query(conn: Connection, package: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    t = s.audit_log.c
    q = select(s.audit_log).order_by(t.id.desc()).limit(limit)
    if package is not None:
        q = q.where(t.package == package)
    out = []
    for row in conn.execute(q):
        item = dict(row._mapping)
        item["at"] = aware(item["at"]).isoformat()  # type: ignore[union-attr]
        out.append(item)
    return out


class AuditBuffer:
    """Batches audit entries into the database from a background thread."""

    def __init__(self, engine: Engine, *, interval: float = 0.5, batch: int = 500) -> None:
        self._engine = engine
        self._interval = interval
        self._batch = batch
        self._entries: list[AuditEntry] = []
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # flush() returns only when earlier entries are in
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-flush", daemon=True)
        self._thread.start()

    def add(self, entry: AuditEntry) -> None:
        with self._lock:
            self._entries.append(entry)
            full = len(self._entries) >= self._batch
        if full or entry.result == "denied":
            self._wake.set()

    def flush(self) -> None:
        with self._flushing:
            with self._lock:
                entries, self._entries = self._entries, []
            if not entries:
                return
            last_used: dict[str, datetime] = {}
            for entry in entries:
                if entry.credential_id is not None:
                    last_used[entry.credential_id] = entry.at
            try:
                with write(self._engine) as conn:
                    record(conn, entries)
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
