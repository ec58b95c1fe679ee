"""Manifests and tags of a package.

A manifest is stored (content included, at most 4 MiB) per package and digest; what it references
(config, layers, child manifests) is recorded in ``manifest_refs``, which makes deletion and
garbage collection safe: a blob or child still referenced is never removed from under a parent.
A tag always points at a manifest of its package: both are written in one transaction, and
deleting a manifest deletes its tags.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Connection, delete, select, update

from cargohold.db import queries as q
from cargohold.db import schema as s
from cargohold.db.raw import Reader
from cargohold.db.tx import insert_ignore, now, upsert
from cargohold.errors import (
    ConflictError,
    ManifestBlobUnknownError,
    ManifestInvalidError,
    ManifestUnknownError,
)
from cargohold.oci.manifest import Descriptor, ParsedManifest
from cargohold.registry import lifecycle


@dataclass(frozen=True, slots=True)
class StoredManifest:
    digest: str
    media_type: str
    content: bytes


def get(db: Reader, package_id: int, reference: str, is_digest: bool) -> StoredManifest:
    stmt = q.MANIFEST_BY_DIGEST if is_digest else q.MANIFEST_BY_TAG
    row = db.one(stmt, p=package_id, ref=reference)
    if row is None:
        raise ManifestUnknownError(detail={"reference": reference})
    return StoredManifest(row.digest, row.media_type, bytes(row.content))


def _stored_sizes(
    conn: Connection, package_id: int, digests: set[str], blob: bool
) -> dict[str, int]:
    """Sizes of the referenced content the package holds, each row claimed for this PUT.

    Claiming bumps the generation of the link (or child manifest) row: on PostgreSQL the row
    stays locked until this transaction ends, and the garbage collector's conditional delete
    (``generation = seen``) waits and then skips it; a row the collector deleted first is
    simply absent here, so the PUT fails with MANIFEST_BLOB_UNKNOWN (see ``registry.gc``).
    """
    if blob:
        pb, b = s.package_blobs.c, s.blobs.c
        claimed = set(
            conn.execute(
                update(s.package_blobs)
                .where(pb.package_id == package_id, pb.digest.in_(digests))
                .values(generation=pb.generation + 1)
                .returning(pb.digest)
            ).scalars()
        )
        if not claimed:
            return {}
        query = select(b.digest, b.size).where(b.digest.in_(claimed))
        return {row.digest: int(row.size) for row in conn.execute(query)}
    m = s.manifests.c
    rows = conn.execute(
        update(s.manifests)
        .where(m.package_id == package_id, m.digest.in_(digests), m.deleted_at.is_(None))
        .values(generation=m.generation + 1)
        .returning(m.digest, m.size)
    )
    return {row.digest: int(row.size) for row in rows}


def _claim_manifest(conn: Connection, package_id: int, digest: str) -> bool:
    """Bump an existing manifest's generation (re-push, tag): the collector then keeps it."""
    m = s.manifests.c
    return bool(
        conn.execute(
            update(s.manifests)
            .where(m.package_id == package_id, m.digest == digest)
            .values(generation=m.generation + 1)
        ).rowcount
    )


def _require_present(
    conn: Connection, package_id: int, refs: list[Descriptor], *, blob: bool, what: str
) -> None:
    """Every descriptor must name content of the package, with exactly its stored size.

    Raises MANIFEST_BLOB_UNKNOWN naming the first missing digest, and MANIFEST_INVALID for a
    size that differs from the stored one: a size is what readers of the manifest (this server
    included) trust to bound what they read.
    """
    if not refs:
        return
    have = _stored_sizes(conn, package_id, {str(d.digest) for d in refs}, blob)
    for ref in refs:
        digest = str(ref.digest)
        if digest not in have:
            raise ManifestBlobUnknownError(
                f"{what} {digest}, which is not in this repository", detail={"digest": digest}
            )
        if have[digest] != ref.size:
            raise ManifestInvalidError(
                f"manifest invalid: {what} {digest} with size {ref.size}, but it has "
                f"{have[digest]} bytes",
                detail={"digest": digest, "size": ref.size, "stored": have[digest]},
            )


def put(
    conn: Connection,
    package_id: int,
    digest: str,
    body: bytes,
    parsed: ParsedManifest,
    tag: str | None,
) -> None:
    """Store a manifest (idempotent) and point ``tag`` at it.

    Raises ``ManifestBlobUnknownError`` naming the first missing blob or child manifest.
    """
    blob_descriptors = ([parsed.config] if parsed.config is not None else []) + list(parsed.layers)
    _require_present(conn, package_id, blob_descriptors, blob=True, what="manifest references blob")
    _require_present(
        conn, package_id, list(parsed.manifests), blob=False, what="index references manifest"
    )
    blob_refs = [str(d) for d in parsed.blob_references()]
    child_refs = [str(d) for d in parsed.manifest_references()]
    at = now()
    row = {
        "package_id": package_id,
        "digest": digest,
        "media_type": parsed.media_type,
        "size": len(body),
        "content": body,
        "artifact_type": parsed.artifact_type,
        "subject_digest": str(parsed.subject.digest) if parsed.subject else None,
        "annotations": json.dumps(dict(parsed.annotations)) if parsed.annotations else None,
        "created_at": at,
    }
    inserted = insert_ignore(conn, s.manifests, **row)
    if not inserted and not _claim_manifest(conn, package_id, digest):
        # The collector deleted it between the two statements: store it afresh.
        inserted = insert_ignore(conn, s.manifests, **row)
        if not inserted:
            raise ConflictError("the manifest changed concurrently; retry")
    # A re-push of a soft-deleted version's exact content makes it live again.
    lifecycle.revive_version(conn, package_id, digest)
    if inserted:
        for kind, refs in (("blob", blob_refs), ("manifest", child_refs)):
            for child in dict.fromkeys(refs):
                insert_ignore(
                    conn,
                    s.manifest_refs,
                    package_id=package_id,
                    parent_digest=digest,
                    child_digest=child,
                    kind=kind,
                )
    if tag is not None:
        upsert(
            conn,
            s.tags,
            ("package_id", "name"),
            package_id=package_id,
            name=tag,
            digest=digest,
            updated_at=at,
        )


def delete_tag(conn: Connection, package_id: int, tag: str) -> None:
    result = conn.execute(
        delete(s.tags).where(s.tags.c.package_id == package_id, s.tags.c.name == tag)
    )
    if result.rowcount == 0:
        raise ManifestUnknownError(detail={"reference": tag})


def delete_manifest(conn: Connection, package_id: int, digest: str) -> None:
    """Delete a manifest version and the tags pointing at it.

    Refused (409) while an index of the package still lists it: deleting it would leave the index
    pointing at nothing.
    """
    exists = conn.execute(
        select(s.manifests.c.digest).where(
            s.manifests.c.package_id == package_id, s.manifests.c.digest == digest
        )
    ).first()
    if exists is None:
        raise ManifestUnknownError(detail={"reference": digest})
    parent = conn.execute(
        select(s.manifest_refs.c.parent_digest)
        .where(
            s.manifest_refs.c.package_id == package_id,
            s.manifest_refs.c.child_digest == digest,
            s.manifest_refs.c.kind == "manifest",
        )
        .limit(1)
    ).scalar()
    if parent is not None:
        raise ConflictError(
            f"manifest {digest} is listed by index {parent}; delete the index first",
            detail={"digest": digest, "index": parent},
        )
    conn.execute(delete(s.tags).where(s.tags.c.package_id == package_id, s.tags.c.digest == digest))
    conn.execute(
        delete(s.manifest_refs).where(
            s.manifest_refs.c.package_id == package_id, s.manifest_refs.c.parent_digest == digest
        )
    )
    conn.execute(
        delete(s.manifests).where(
            s.manifests.c.package_id == package_id, s.manifests.c.digest == digest
        )
    )


def list_tags(db: Reader, package_id: int, n: int | None, last: str | None) -> list[str]:
    if n is None:
        rows = db.all(q.TAGS_AFTER, p=package_id, last=last or "")
    else:
        rows = db.all(q.TAGS_PAGE, p=package_id, last=last or "", n=n)
    return [r.name for r in rows]


def referrers(
    db: Reader, package_id: int, subject: str, artifact_type: str | None
) -> list[dict[str, object]]:
    """Descriptors of the manifests whose subject is ``subject``, for the referrers index."""
    if artifact_type is None:
        rows = db.all(q.REFERRERS, p=package_id, subject=subject)
    else:
        rows = db.all(
            q.REFERRERS_OF_TYPE, p=package_id, subject=subject, artifact_type=artifact_type
        )
    out: list[dict[str, object]] = []
    for row in rows:
        desc: dict[str, object] = {
            "mediaType": row.media_type,
            "digest": row.digest,
            "size": row.size,
        }
        if row.artifact_type:
            desc["artifactType"] = row.artifact_type
        if row.annotations:
            desc["annotations"] = json.loads(row.annotations)
        out.append(desc)
    return out
