"""Soft delete, restore and purge of packages and versions (GitHub's rule).

    live ──delete──> deleted ──restore (within the window)──> live
                        │
                        └──(window over) purgeable ──garbage collector──> gone

A deleted package keeps its row: the permission decision still sees it (existence rules do not
change, and its name stays reserved: a push to it is refused), but it is neither pullable nor
listed. A deleted version keeps its manifest row and its references (so its blobs stay stored),
is not pullable by digest and not listed; its tags move to ``manifests.deleted_tags`` so tag reads
need no filter. Restoring puts back the tags no live version took meanwhile.

Nothing here authorizes; ``LifecycleService`` does, as package admin. The garbage collector
calls ``purgeable`` (what may go as of a time) and ``purge_package`` / ``purge_version``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, and_, delete, select, update

from cargohold.db import schema as s
from cargohold.db.tx import aware, insert_ignore
from cargohold.errors import ConflictError, ManifestUnknownError, NameUnknownError

P = s.packages.c
M = s.manifests.c


@dataclass(frozen=True, slots=True)
class Deleted:
    """When something was deleted, by whom, and until when it can be restored."""

    deleted_at: datetime
    deleted_by: str | None
    restorable_until: datetime


@dataclass(frozen=True, slots=True)
class Purgeable:
    """What the garbage collector may remove for good: package ids, (package id, digest)s."""

    packages: tuple[int, ...]
    versions: tuple[tuple[int, str], ...]


def deleted_info(deleted_at: datetime | None, by: str | None, window: timedelta) -> Deleted | None:
    at = aware(deleted_at)
    return None if at is None else Deleted(at, by, at + window)


def package_deleted(conn: Connection, package_id: int, window: timedelta) -> Deleted | None:
    row = conn.execute(select(P.deleted_at, P.deleted_by).where(P.id == package_id)).first()
    return None if row is None else deleted_info(row.deleted_at, row.deleted_by, window)


def reserved_message(name: str, deleted: Deleted, at: datetime) -> str:
    """Why a push to a deleted package's name is refused, and how to get it back."""
    if at < deleted.restorable_until:
        return (
            f"package {name} was deleted on {deleted.deleted_at:%Y-%m-%d %H:%M} UTC; its name is "
            f"reserved: a package admin can restore it until "
            f"{deleted.restorable_until:%Y-%m-%d %H:%M} UTC (`cargohold package restore {name}` or "
            f"POST /api/v3/.../packages/container/{{name}}/restore)"
        )
    return (
        f"package {name} was deleted on {deleted.deleted_at:%Y-%m-%d %H:%M} UTC and can no longer "
        "be restored; its name is free once the garbage collector has purged it"
    )


def delete_package(conn: Connection, package_id: int, by: str, at: datetime) -> None:
    """Mark a live package deleted. NAME_UNKNOWN when it is already deleted."""
    done = conn.execute(
        update(s.packages)
        .where(P.id == package_id, P.deleted_at.is_(None))
        .values(deleted_at=at, deleted_by=by)
    ).rowcount
    if done != 1:
        raise NameUnknownError("package is already deleted", detail={"id": package_id})


def restore_package(conn: Connection, package_id: int, window: timedelta, at: datetime) -> None:
    """Bring back a deleted package within the window (CONFLICT after it; NOT deleted: 404)."""
    info = package_deleted(conn, package_id, window)
    if info is None:
        raise NameUnknownError("package is not deleted", detail={"id": package_id})
    if at >= info.restorable_until:
        raise ConflictError(
            f"the package was deleted on {info.deleted_at:%Y-%m-%d} and could be restored only "
            f"until {info.restorable_until:%Y-%m-%d %H:%M} UTC",
            detail={"restorable_until": info.restorable_until.isoformat()},
        )
    conn.execute(
        update(s.packages).where(P.id == package_id).values(deleted_at=None, deleted_by=None)
    )


def _live_parent(conn: Connection, package_id: int, digest: str) -> str | None:
    r = s.manifest_refs.c
    return conn.execute(
        select(r.parent_digest)
        .join(
            s.manifests,
            (M.package_id == r.package_id) & (M.digest == r.parent_digest),
        )
        .where(
            r.package_id == package_id,
            r.child_digest == digest,
            r.kind == "manifest",
            M.deleted_at.is_(None),
        )
        .limit(1)
    ).scalar()


def delete_version(conn: Connection, package_id: int, digest: str, by: str, at: datetime) -> None:
    """Mark a live version deleted and move its tags aside.

    MANIFEST_UNKNOWN when there is no live version ``digest``; CONFLICT while a live index of the
    package lists it (deleting it would leave the index pointing at nothing).
    """
    row = conn.execute(
        select(M.deleted_at).where(M.package_id == package_id, M.digest == digest)
    ).first()
    if row is None or row.deleted_at is not None:
        raise ManifestUnknownError(detail={"reference": digest})
    parent = _live_parent(conn, package_id, digest)
    if parent is not None:
        raise ConflictError(
            f"manifest {digest} is listed by index {parent}; delete the index first",
            detail={"digest": digest, "index": parent},
        )
    t = s.tags.c
    names = sorted(
        conn.execute(select(t.name).where(t.package_id == package_id, t.digest == digest)).scalars()
    )
    conn.execute(delete(s.tags).where(t.package_id == package_id, t.digest == digest))
    conn.execute(
        update(s.manifests)
        .where(M.package_id == package_id, M.digest == digest)
        .values(deleted_at=at, deleted_by=by, deleted_tags=json.dumps(names) if names else None)
    )


def delete_version_if_unchanged(
    conn: Connection, package_id: int, digest: str, generation: int, by: str, at: datetime
) -> bool:
    """``delete_version`` for a planner (retention) that read the version at ``generation``:
    False, changing nothing the caller's savepoint cannot undo, when it was re-pushed or
    re-tagged since (new generation), is gone or deleted already, or a live index lists it."""
    if _live_parent(conn, package_id, digest) is not None:
        return False
    t = s.tags.c
    names = sorted(
        conn.execute(select(t.name).where(t.package_id == package_id, t.digest == digest)).scalars()
    )
    marked = conn.execute(
        update(s.manifests)
        .where(
            M.package_id == package_id,
            M.digest == digest,
            M.generation == generation,
            M.deleted_at.is_(None),
        )
        .values(deleted_at=at, deleted_by=by, deleted_tags=json.dumps(names) if names else None)
    ).rowcount
    if not marked:
        return False
    conn.execute(delete(s.tags).where(t.package_id == package_id, t.digest == digest))
    return True


def _children(conn: Connection, package_id: int, digest: str) -> list[str]:
    r = s.manifest_refs.c
    return list(
        conn.execute(
            select(r.child_digest).where(
                r.package_id == package_id, r.parent_digest == digest, r.kind == "manifest"
            )
        ).scalars()
    )


def restore_version(
    conn: Connection, package_id: int, digest: str, window: timedelta, at: datetime
) -> list[str]:
    """Bring back a deleted version (and the deleted children an index lists) within the window.

    Returns the tags put back (a tag a live version took meanwhile stays where it is).
    MANIFEST_UNKNOWN when ``digest`` is not a deleted version; CONFLICT after the window, or when
    a child the index lists was purged.
    """
    row = conn.execute(
        select(M.deleted_at, M.deleted_by, M.deleted_tags).where(
            M.package_id == package_id, M.digest == digest
        )
    ).first()
    info = None if row is None else deleted_info(row.deleted_at, row.deleted_by, window)
    if row is None or info is None:
        raise ManifestUnknownError("version is not deleted", detail={"reference": digest})
    if at >= info.restorable_until:
        raise ConflictError(
            f"version {digest} was deleted on {info.deleted_at:%Y-%m-%d} and could be restored "
            f"only until {info.restorable_until:%Y-%m-%d %H:%M} UTC",
            detail={"restorable_until": info.restorable_until.isoformat()},
        )
    for child in _children(conn, package_id, digest):
        state = conn.execute(
            select(M.deleted_at).where(M.package_id == package_id, M.digest == child)
        ).first()
        if state is None:
            raise ConflictError(
                f"index {digest} lists manifest {child}, which was purged; it cannot be restored",
                detail={"digest": digest, "missing": child},
            )
        if state.deleted_at is not None:
            restore_version(conn, package_id, child, window, at)
    conn.execute(
        update(s.manifests)
        .where(M.package_id == package_id, M.digest == digest)
        .values(deleted_at=None, deleted_by=None, deleted_tags=None)
    )
    wanted = json.loads(row.deleted_tags) if row.deleted_tags else []
    t = s.tags.c
    taken = set(
        conn.execute(select(t.name).where(t.package_id == package_id, t.name.in_(wanted))).scalars()
    )
    restored = [name for name in wanted if name not in taken]
    for name in restored:
        # (insert_ignore's answer is not used: its rowcount is -1 on PostgreSQL)
        insert_ignore(conn, s.tags, package_id=package_id, name=name, digest=digest, updated_at=at)
    return restored


def revive_version(conn: Connection, package_id: int, digest: str) -> None:
    """A push of a deleted version's exact content makes it live again (its old tags stay aside:
    the push names the tags it wants)."""
    conn.execute(
        update(s.manifests)
        .where(M.package_id == package_id, M.digest == digest, M.deleted_at.is_not(None))
        .values(deleted_at=None, deleted_by=None, deleted_tags=None)
    )


def purgeable(conn: Connection, as_of: datetime, window: timedelta) -> Purgeable:
    """What may be removed for good as of ``as_of``: deleted before ``as_of - window``.

    The versions of a purgeable package are not listed separately (purging the package removes
    them). Parents come before the children they list, so purging in order never leaves a
    deleted index pointing at a purged child it could be restored with.
    """
    cutoff = as_of - window
    gone = tuple(
        conn.execute(
            select(P.id).where(P.deleted_at.is_not(None), P.deleted_at <= cutoff).order_by(P.id)
        ).scalars()
    )
    rows = conn.execute(
        select(M.package_id, M.digest)
        .join(s.packages, P.id == M.package_id)
        .where(
            M.deleted_at.is_not(None),
            M.deleted_at <= cutoff,
            P.deleted_at.is_(None) | (P.deleted_at > cutoff),
        )
        .order_by(M.package_id, M.deleted_at.desc(), M.digest)
    ).all()
    return Purgeable(gone, tuple((r.package_id, r.digest) for r in rows))


def purge_version(
    conn: Connection, package_id: int, digest: str, deleted_before: datetime | None = None
) -> bool:
    """Remove a deleted version for good (its tags were already moved aside). Blobs it alone
    referenced become unreferenced; collecting those is the garbage collector's business.
    Returns False when it is not (or no longer) a deleted version.

    The delete itself re-checks ``deleted_at``: a push that revived the version after the
    collector listed it wins, whatever the isolation level."""
    r = s.manifest_refs.c
    still_deleted: ColumnElement[bool] = M.deleted_at.is_not(None)
    if deleted_before is not None:  # deleted again since the listing: a new window
        still_deleted = and_(still_deleted, M.deleted_at <= deleted_before)
    gone = conn.execute(
        delete(s.manifests).where(M.package_id == package_id, M.digest == digest, still_deleted)
    ).rowcount
    if not gone:
        return False
    conn.execute(
        delete(s.manifest_refs).where(r.package_id == package_id, r.parent_digest == digest)
    )
    return True


def purge_package(conn: Connection, package_id: int) -> bool:
    """Remove a deleted package and everything hanging off it (its name becomes free).
    Returns False when it is not (or no longer) deleted."""
    # Lock the row (PostgreSQL) and re-check: a restore that committed since the listing wins.
    row = conn.execute(select(P.deleted_at).where(P.id == package_id).with_for_update()).first()
    if row is None or row.deleted_at is None:
        return False
    for table in (
        s.tags,
        s.manifest_refs,
        s.manifests,
        s.package_blobs,
        s.uploads,
        s.package_grants,
        s.package_actions_access,
    ):
        conn.execute(delete(table).where(table.c.package_id == package_id))
    conn.execute(delete(s.packages).where(P.id == package_id))
    return True
