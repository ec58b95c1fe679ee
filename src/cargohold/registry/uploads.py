"""Upload sessions: in the database and the blob store, never only in a process.

Lifecycle of one session (any server process sharing the DB and the store may serve any step)::

    POST /uploads/ ──> open (row: size 0, store upload) ──PATCH (offset == size)──> open (size += n)
       │                  │                                  │ out of order: 416, unchanged
       │ ?digest=         │ PUT ?digest=[+ final chunk]      │ client gone mid-chunk:
       ▼                  ▼                                  ▼ store truncated back to size
    blob committed <── verify digest ── mismatch: DIGEST_INVALID, session and bytes deleted
                          │ DELETE: cancelled, bytes deleted

The row's ``size`` is the truth about how many bytes were accepted; the store's temporary
object never holds more than that after a request ends. Bytes become a blob only by
``BlobStore.commit``, which verifies the digest and renames atomically.

Hashing while streaming is an optimisation: ``RunningHashes`` keeps the hash state of sessions this
process is receiving. A session continued by another process is re-hashed from the store.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, update

from cargohold.db import schema as s
from cargohold.db.raw import Reader
from cargohold.db.tx import now
from cargohold.errors import BlobUploadUnknownError, RangeInvalidError


@dataclass(frozen=True, slots=True)
class UploadRow:
    id: str
    package_id: int
    storage_id: str
    size: int


def open_session(
    conn: Connection, package_id: int, storage_id: str, credential_id: str | None
) -> UploadRow:
    session = uuid.uuid4().hex
    at = now()
    conn.execute(
        s.uploads.insert().values(
            id=session,
            package_id=package_id,
            storage_id=storage_id,
            size=0,
            created_by=credential_id,
            created_at=at,
            updated_at=at,
        )
    )
    return UploadRow(session, package_id, storage_id, 0)


def get(db: Reader, package_id: int, session: str) -> UploadRow:
    row = db.one(
        "SELECT storage_id, size FROM uploads WHERE id = :id AND package_id = :p",
        id=session,
        p=package_id,
    )
    if row is None:
        raise BlobUploadUnknownError(detail={"session": session})
    return UploadRow(session, package_id, row[0], int(row[1]))


def advance(conn: Connection, upload: UploadRow, new_size: int) -> None:
    """Record that the session grew from ``upload.size`` to ``new_size`` (compare-and-set)."""
    result = conn.execute(
        update(s.uploads)
        .where(s.uploads.c.id == upload.id, s.uploads.c.size == upload.size)
        .values(size=new_size, updated_at=now())
    )
    if result.rowcount != 1:
        raise RangeInvalidError(
            "the upload was changed by a concurrent request", detail={"session": upload.id}
        )


def close(conn: Connection, session: str) -> None:
    conn.execute(delete(s.uploads).where(s.uploads.c.id == session))


class RunningHashes:
    """Hash states of sessions this process is receiving, keyed by session id.

    A cache, not state: an entry is used only when its byte count equals the session's size, so
    a session continued elsewhere (or after a restart) falls back to re-hashing the stored bytes.
    """

    def __init__(self, capacity: int = 256) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[int, Any]] = OrderedDict()
        self._capacity = capacity

    def take(self, session: str, size: int) -> Any | None:
        with self._lock:
            entry = self._entries.pop(session, None)
        if entry is None or entry[0] != size:
            return None
        return entry[1]

    def put(self, session: str, size: int, hasher: Any) -> None:
        with self._lock:
            self._entries[session] = (size, hasher)
            self._entries.move_to_end(session)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def drop(self, session: str) -> None:
        with self._lock:
            self._entries.pop(session, None)
