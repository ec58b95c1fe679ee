"""Which package may see which blob: metadata over the content-addressed blob store.

A blob's bytes are stored once (``blobs``); a package sees it through a link
(``package_blobs``), made when an upload into that package completes or a mount succeeds.
"""

from __future__ import annotations

from sqlalchemy import Connection, and_, delete, select

from cargohold.db import queries as q
from cargohold.db import schema as s
from cargohold.db.raw import Reader
from cargohold.db.tx import insert_ignore, now
from cargohold.errors import BlobUnknownError, ConflictError


def size_in(db: Reader, package_id: int, digest: str) -> int | None:
    """Size of ``digest`` if the package links it, else None."""
    size = db.scalar(q.BLOB_SIZE, p=package_id, d=digest)
    return None if size is None else int(size)


def link(conn: Connection, package_id: int, digest: str, size: int) -> None:
    """Record the blob (idempotent) and make it visible in the package (idempotent)."""
    at = now()
    insert_ignore(conn, s.blobs, digest=digest, size=size, created_at=at)
    insert_ignore(conn, s.package_blobs, package_id=package_id, digest=digest, created_at=at)


def mount(conn: Connection, package_id: int, source_id: int, digest: str) -> int | None:
    """Link a blob of ``source_id`` into ``package_id``; a metadata operation. Returns size."""
    size = size_in(Reader.over(conn), source_id, digest)
    if size is not None:
        link(conn, package_id, digest, size)
    return size


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
