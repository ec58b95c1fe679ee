"""Upload sessions: in the database and the blob store, never only in a process.

Lifecycle of one session (any server process sharing the DB and the store may serve any step)::

    POST /uploads/ ──> open (row: size 0, store upload) ──PATCH (offset == size)──> open (size += n)
       │                  │                                  │ out of order or busy: 416, unchanged
       │ ?digest=         │ PUT ?digest=[+ final chunk]      │ client gone mid-chunk:
       ▼                  ▼                                  ▼ store truncated back to size
    blob committed <── verify digest ── mismatch: DIGEST_INVALID, session and bytes deleted
                          │ DELETE: cancelled, bytes deleted

The row's ``size`` is the truth about how many bytes were accepted; the store's temporary
object never holds more than that after a request ends. Bytes become a blob only by
``BlobStore.commit``, which verifies the digest and renames atomically.

A session belongs to the credential that opened it (``created_by``): any other caller is told
the session is unknown. One request at a time writes to a session: it takes the row's ``claim``
(a compare-and-set in its own transaction) before writing a byte and gives it back when it
records the new size. A concurrent request finds the claim taken and gets 416 without writing
or truncating anything. A claim older than ``CLAIM_TTL`` (its holder died) may be taken over;
a writer renews its claim on a timer for as long as it holds it.

Hashing while streaming is an optimisation: ``RunningHashes`` keeps the hash state of sessions this
process is receiving. A session continued by another process is re-hashed from the store.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, delete

from cargohold.db import queries as q
from cargohold.db import schema as s
from cargohold.db.raw import Reader, Writer, timestamp
from cargohold.db.tx import now
from cargohold.errors import BlobUploadUnknownError, RangeInvalidError

CLAIM_TTL = timedelta(seconds=10)
"""A claim not renewed for this long belongs to a dead request and may be taken over: a client's
retry of a chunk whose replica was killed succeeds on another replica after at most this long
(as long as the S3 store's upload lease). Live holders renew it on a timer (a quarter of it),
so it bounds only how long a dead one blocks; replicas' clocks must agree well within it."""


@dataclass(frozen=True, slots=True)
class UploadRow:
    """A session as one request holds it: ``claim`` is set while this request may write."""

    id: str
    package_id: int
    storage_id: str
    size: int
    claim: str | None = None


def new_claim() -> str:
    return secrets.token_hex(16)


def open_session(
    conn: Connection,
    package_id: int,
    storage_id: str,
    credential_id: str | None,
    *,
    claimed: bool = False,
) -> UploadRow:
    """A new session; ``claimed`` opens it already claimed by the caller (monolithic push)."""
    session = uuid.uuid4().hex
    at = now()
    claim = new_claim() if claimed else None
    conn.execute(
        s.uploads.insert().values(
            id=session,
            package_id=package_id,
            storage_id=storage_id,
            size=0,
            created_by=credential_id,
            created_at=at,
            updated_at=at,
            claim=claim,
            claimed_at=at if claim else None,
        )
    )
    return UploadRow(session, package_id, storage_id, 0, claim)


def _row(conn: Connection, package_id: int, session: str, credential_id: str | None) -> Any:
    row = Reader.over(conn).one(q.UPLOAD_ROW, session=session, package_id=package_id)
    # Someone else's session is unknown to this caller: the id alone must not be a capability.
    if row is None or row.created_by != credential_id:
        raise BlobUploadUnknownError(detail={"session": session})
    return row


def get(conn: Connection, package_id: int, session: str, credential_id: str | None) -> UploadRow:
    """The session as stored (unclaimed view), if ``credential_id`` opened it."""
    row = _row(conn, package_id, session, credential_id)
    return UploadRow(session, package_id, row.storage_id, int(row.size))


def claim(
    conn: Connection,
    package_id: int,
    session: str,
    credential_id: str | None,
    *,
    offset: int | None = None,
) -> UploadRow:
    """Take the session for writing; 416 if another request holds it or ``offset`` != size."""
    row = _row(conn, package_id, session, credential_id)
    size = int(row.size)
    at = now()
    held = row.claim is not None and (timestamp(row.claimed_at) or at) > at - CLAIM_TTL
    if held:
        raise RangeInvalidError(
            "another request is writing to this upload; retry when it has finished",
            detail={"session": session, "size": size},
        )
    if offset is not None and offset != size:
        raise RangeInvalidError(
            f"chunk starts at {offset} but the upload has {size} bytes",
            detail={"session": session, "size": size},
        )
    token = new_claim()
    taken = Writer.over(conn).change(
        q.UPLOAD_CLAIM, session=session, size=size, seen=row.claim, token=token, at=at
    )
    if taken != 1:
        raise RangeInvalidError(
            "another request is writing to this upload", detail={"session": session}
        )
    return UploadRow(session, package_id, row.storage_id, size, token)


def renew(conn: Connection, upload: UploadRow) -> bool:
    """Extend the claim; False if it was taken over (then stop writing at once)."""
    kept = Writer.over(conn).change(q.UPLOAD_RENEW, session=upload.id, token=upload.claim, at=now())
    return kept == 1


def advance(conn: Connection, upload: UploadRow, new_size: int) -> None:
    """Record that the claimed session grew to ``new_size`` and give the claim back."""
    changed = Writer.over(conn).change(
        q.UPLOAD_ADVANCE,
        session=upload.id,
        token=upload.claim,
        size=upload.size,
        new_size=new_size,
        at=now(),
    )
    if changed != 1:
        raise RangeInvalidError(
            "the upload was changed by a concurrent request", detail={"session": upload.id}
        )


def release(conn: Connection, upload: UploadRow) -> None:
    """Give the claim back without changing the size."""
    Writer.over(conn).change(q.UPLOAD_RELEASE, session=upload.id, token=upload.claim)


def close(conn: Connection, session: str) -> None:
    conn.execute(delete(s.uploads).where(s.uploads.c.id == session))


class RunningHashes:
    """Hash states of sessions this process is receiving, keyed by session id.

    A cache, not state: an entry is used only when its byte count equals the session's size, so
    a session continued elsewhere (or after a restart) falls back to re-hashing the stored bytes.
    """

    def __init__(self, capacity: int = 256) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[int, hashlib._Hash]] = OrderedDict()
        self._capacity = capacity

    def take(self, session: str, size: int) -> hashlib._Hash | None:
        with self._lock:
            entry = self._entries.pop(session, None)
        if entry is None or entry[0] != size:
            return None
        return entry[1]

    def put(self, session: str, size: int, hasher: hashlib._Hash) -> None:
        with self._lock:
            self._entries[session] = (size, hasher)
            self._entries.move_to_end(session)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def drop(self, session: str) -> None:
        with self._lock:
            self._entries.pop(session, None)
