"""Sweeping abandoned uploads.

A client that opens an upload and never finishes it (crashed, cancelled without DELETE) leaves
a session row and a temporary object; a process that died between ``begin_upload`` and
recording the session leaves a temporary object without a row. Neither is ever a blob, so the
store stays consistent, but they hold disk. ``sweep`` removes sessions untouched for
``older_than`` and temporary objects that old which no session names.

It never touches committed blobs: reclaiming blobs no manifest references is garbage
collection's job, which needs the referrer walk and grace period of its own issue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, select

from cargohold.db import schema as s
from cargohold.storage.protocol import BlobStore


@dataclass(frozen=True, slots=True)
class SweepResult:
    sessions: int
    orphans: int


def _expire_sessions(conn: Connection, cutoff: datetime) -> list[str]:
    """Delete sessions idle since before ``cutoff``; returns their store upload ids."""
    u = s.uploads.c
    stale = list(conn.execute(select(u.id, u.storage_id).where(u.updated_at < cutoff)))
    if stale:
        conn.execute(delete(s.uploads).where(u.id.in_([row.id for row in stale])))
    return [row.storage_id for row in stale]


def _live_storage_ids(conn: Connection) -> set[str]:
    return set(conn.execute(select(s.uploads.c.storage_id)).scalars())


def sweep(conn: Connection, store: BlobStore, older_than: timedelta, now: datetime) -> SweepResult:
    """Remove abandoned sessions and orphaned temporary objects older than ``older_than``.

    Runs in the caller's write transaction. Store objects are removed as rows go: if the
    transaction then fails, a remaining row names a missing object, which answers
    BLOB_UPLOAD_UNKNOWN like any expired session.
    """
    cutoff = now - older_than
    expired = _expire_sessions(conn, cutoff)
    for storage_id in expired:
        store.cancel(storage_id)
    live = _live_storage_ids(conn)
    orphans = 0
    for upload_id, mtime in store.iter_uploads():
        if upload_id not in live and mtime < cutoff.timestamp():
            store.cancel(upload_id)
            orphans += 1
    return SweepResult(len(expired), orphans)
