"""Which package may see which blob: metadata over the content-addressed blob store.

A blob's bytes are stored once (``blobs``); a package sees it through a link
(``package_blobs``), made when an upload into that package completes or a mount succeeds.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, and_, delete, select, update

from cargohold.db import queries as q
from cargohold.db import schema as s
from cargohold.db.raw import Reader
from cargohold.db.tx import insert_ignore, now
from cargohold.errors import BlobUnknownError, ConflictError


def size_in(db: Reader, package_id: int, digest: str) -> int | None:
    """Size of ``digest`` if the package links it, else None."""
    size = db.scalar(q.BLOB_SIZE, p=package_id, d=digest)
    return None if size is None else int(size)


def link(
    conn: Connection,
    package_id: int,
    digest: str,
    size: int,
    stored: Callable[[], bool] | None = None,
) -> bool:
    """Make the blob visible in the package (idempotent); False when it cannot be linked.

    The garbage collector's counterpart (see ``registry.gc``): a live blob row is claimed by
    bumping its generation (a row lock on PostgreSQL, so a concurrent mark waits and then sees
    the new generation and skips it); a row the collector marked "deleting" is never linked.
    With no row at all the blob is recorded afresh, but only if ``stored()`` confirms the bytes
    are in the store (an upload whose commit found them already stored may have raced their
    deletion). ``stored=None`` (a mount) links only a live row: a live row's bytes are stored.
    """
    at = now()
    b = s.blobs.c
    claim = (
        update(s.blobs)
        .where(b.digest == digest, b.state == "live")
        .values(generation=b.generation + 1)
    )
    if not conn.execute(claim).rowcount:
        if stored is None:
            return False
        if not insert_ignore(conn, s.blobs, digest=digest, size=size, created_at=at):
            # Another upload of the same content recorded it meanwhile (then claim that row),
            # or the row is "deleting": its bytes are being collected.
            return bool(conn.execute(claim).rowcount) and _link_package(conn, package_id, digest)
        if not stored():
            conn.execute(delete(s.blobs).where(b.digest == digest))
            return False
    return _link_package(conn, package_id, digest)


def _link_package(conn: Connection, package_id: int, digest: str) -> bool:
    at = now()
    pb = s.package_blobs.c
    relinked = conn.execute(
        update(s.package_blobs)
        .where(pb.package_id == package_id, pb.digest == digest)
        .values(generation=pb.generation + 1, created_at=at)  # the grace period starts again
    ).rowcount
    if not relinked:
        insert_ignore(conn, s.package_blobs, package_id=package_id, digest=digest, created_at=at)
    return True


def mount(conn: Connection, package_id: int, source_id: int, digest: str) -> int | None:
    """Link a blob of ``source_id`` into ``package_id``; a metadata operation. Returns size,
    or None (no such blob in the source, or being collected: the client uploads instead)."""
    size = size_in(Reader.over(conn), source_id, digest)
    if size is not None and link(conn, package_id, digest, size):
        return size
    return None


def state_of(db: Reader, digest: str) -> str | None:
    """The blob row's garbage-collection state ("live", "deleting"), or None without a row."""
    state = db.scalar(q.BLOB_STATE, d=digest)
    return None if state is None else str(state)


def unlink(conn: Connection, package_id: int, digest: str) -> None:
    """Remove the blob from the package. Refused while a manifest of the package uses it.

    The bytes stay in the store; reclaiming unreferenced bytes is garbage collection's job.
    """
    if size_in(Reader.over(conn), package_id, digest) is None:
        raise BlobUnknownError(detail={"digest": digest})
    user = conn.execute(
        select(s.manifest_refs.c.parent_digest)
        .where(
            and_(
                s.manifest_refs.c.package_id == package_id,
                s.manifest_refs.c.child_digest == digest,
                s.manifest_refs.c.kind == "blob",
            )
        )
        .limit(1)
    ).scalar()
    if user is not None:
        raise ConflictError(
            f"blob {digest} is used by manifest {user}; delete that manifest first",
            detail={"digest": digest, "manifest": user},
        )
    conn.execute(
        delete(s.package_blobs).where(
            s.package_blobs.c.package_id == package_id, s.package_blobs.c.digest == digest
        )
    )
