"""Online garbage collection: no read-only window, and no race with pushes by construction.

What is garbage (after ``grace``, counted from creation or the last link):

- a manifest that is not live (``live_manifests``: roots are tagged manifests and every
  manifest that is not a referrer; an index keeps its children; a referrer lives only while
  its subject lives, so an orphaned signature or SBOM goes, and never keeps a subject alive);
- a package's blob link that no manifest of the package references;
- a blob that no package links; its bytes are then deleted from the store;
- bytes in the store that no blob row knows (see "Bytes with no row" below).

The protocol. Every row a push depends on carries a ``generation``; every write that makes
something depend on a row bumps that row's generation in the same transaction, and the
collector deletes a row only with a conditional statement that re-checks "unreferenced" AND
"generation is still the one I saw"::

    manifest PUT (one transaction)              collector
    ──────────────────────────────              ─────────
    UPDATE package_blobs SET gen = gen + 1      SELECT unreferenced links (digest, gen)
      WHERE pkg = P AND digest IN (refs)        DELETE FROM package_blobs
      RETURNING digest   ── all present?          WHERE pkg = P AND digest = D AND gen = seen
      no: MANIFEST_BLOB_UNKNOWN                     AND NOT EXISTS (refs to D in P)
    INSERT manifest, manifest_refs
    COMMIT                                      blobs with no link: UPDATE blobs
                                                  SET state = 'deleting'
    upload commit / mount (one transaction)       WHERE digest = D AND state = 'live'
    ──────────────────────────────────────          AND gen = seen AND NOT EXISTS (links)
    UPDATE blobs SET gen = gen + 1              COMMIT                 ── the mark
      WHERE digest = D AND state = 'live'       store.delete(D)       ── only after the mark
      none and no row: INSERT, stat the store   DELETE FROM blobs
      'deleting': refuse (mount -> upload)        WHERE digest = D AND state = 'deleting'
    INSERT/UPDATE package_blobs (gen + 1)
    COMMIT

The collector issues its conditional statements a batch at a time (``(package, digest,
generation) IN (...)`` with the same NOT EXISTS clause, RETURNING what matched); each row is
decided exactly as the one-row form above.

Why no interleaving loses a blob:

- SQLite: every write transaction is ``BEGIN IMMEDIATE``, so they are serialised; each
  conditional statement sees every earlier commit, and the interleavings are just the two
  orders: the PUT first (its refs exist, the delete's NOT EXISTS fails) or the delete first
  (the PUT's UPDATE finds no row: MANIFEST_BLOB_UNKNOWN).
- PostgreSQL (READ COMMITTED): both sides UPDATE/DELETE the same row, so the second waits for
  the first's row lock. If the PUT locked it first, the collector's DELETE, once the PUT
  commits, re-evaluates its WHERE on the new row version (EvalPlanQual): ``gen = seen`` is now
  false, the row is skipped. If the collector deleted first, the PUT's UPDATE finds the row gone
  and does not return it. The same holds between link and mark on ``blobs``. A statement that
  starts after the other committed sees its effects directly.
- Bytes are deleted only after the "deleting" mark commits, and a marked row is never linked
  again; the row goes only after the bytes. So a live blob row always has its bytes, and a link
  always has a live blob row. An upload whose store commit found the bytes already there (and
  dropped its own copy) re-checks the store inside the linking transaction when it has to create
  the row, and first waits out a "deleting" mark (``UploadService._await_collection``).

The grace period is policy, not safety: it gives a client time between pushing blobs and
pushing the manifest. Past it the manifest PUT fails cleanly (MANIFEST_BLOB_UNKNOWN).

One collection runs at a time across replicas: ``gc_lease`` holds the job's lease (renewed
between batches). A collector that dies mid-way leaves at most "deleting" marks, which the
next collection finishes.

Bytes with no row. A process that dies between its store commit and the linking transaction
(or a push refused with 503 after storing its copy, below) leaves bytes no ``blobs`` row
knows. The last phase lists the store (``BlobStore.iter_blobs``) and takes those stored before
the cutoff with no row. Their age is no safety: a commit of content already stored keeps the
old copy and its old time, then links it. The guard is the row itself, the same "deleting"
mark, now inserted::

    upload                                      collector
    ──────                                      ─────────
    wait out a "deleting" row                   list the store: D, stored before the cutoff
    store.commit: D already stored, keep it     SELECT: no blobs row for D
    link (one transaction):                     INSERT blobs (D, 'deleting')
      UPDATE blobs ... state = 'live'             ON CONFLICT DO NOTHING RETURNING digest
      no row: INSERT (D, 'live')                COMMIT                 ── the mark
        ON CONFLICT DO NOTHING                  store.delete(D)       ── only if inserted
        inserted: stat the store (``stored``)   DELETE FROM blobs
        conflict ('deleting'): 503, push again    WHERE digest = D AND state = 'deleting'
    COMMIT

The two INSERTs are on one primary key, so exactly one of them creates the row. If the
link's does, the collector's inserts nothing (on PostgreSQL it first waits for the link's
uncommitted row, then sees the conflict; on SQLite the transactions are serialised) and the
bytes stay. If the collector's does, the link finds a "deleting" row (or, once the collector
is done, no row and no bytes: ``stored()`` is false and the link deletes the row it inserted):
the push gets 503 and no row points at the bytes, which go. So every interleaving ends with
the bytes and a live row, or with no row; never a row without bytes. An upload that stored a
fresh copy after the collector deleted the old one, and was refused, leaves fresh bytes with
no row: the next push of that content links them, else a later collection takes them once
they are old enough. A collector that dies after the mark leaves a "deleting" row, which the
next collection finishes like any other mark. The grace period is again policy: it spares a
push between its store commit and its link the 503.

Cost: this phase is O(stored blobs) per collection, whatever the garbage: a directory read
per shard and a ``stat`` per blob on a filesystem, a LIST request per 1,000 blobs on S3, and
an indexed SELECT per 500 listed; writes only for what goes. It streams (a shard directory
or a listing page at a time), so memory stays flat however large the store.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    delete,
    exists,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from cargohold.db import schema as s
from cargohold.db.tx import aware, insert_ignore, now, write
from cargohold.registry import lifecycle
from cargohold.storage.protocol import BlobInfo, BlobStore

log = logging.getLogger(__name__)

LEASE = "gc"
LEASE_TTL = timedelta(minutes=5)
BATCH = 500


@dataclass(frozen=True, slots=True)
class ManifestNode:
    digest: str
    subject: str | None
    created_at: datetime
    generation: int


@dataclass(slots=True)
class PackageGraph:
    """One package's manifests, tagged digests and index edges (parent -> children)."""

    package_id: int
    manifests: dict[str, ManifestNode] = field(default_factory=dict)
    tagged: set[str] = field(default_factory=set)
    children: dict[str, set[str]] = field(default_factory=dict)


def package_is_live(package_id: int, at: datetime) -> bool:
    """Whether the package itself is kept. Every package today; the lifecycle service's purge
    predicate (deleted longer ago than the restore window) goes here."""
    return True


def manifest_is_root(graph: PackageGraph, node: ManifestNode, at: datetime) -> bool:
    """Kept for its own sake: tagged, or any manifest that is not a referrer (untagged
    versions are versions, as on GHCR). The lifecycle purge predicate (a version deleted
    longer ago than the restore window) goes here too."""
    return node.digest in graph.tagged or node.subject is None


def live_manifests(graph: PackageGraph, at: datetime) -> set[str]:
    """THE definition of what a collection keeps in a package: the roots, the children of
    every live index, and the referrers of every live manifest (transitively)."""
    if not package_is_live(graph.package_id, at):
        return set()
    referrers: dict[str, list[str]] = {}
    for node in graph.manifests.values():
        if node.subject is not None:
            referrers.setdefault(node.subject, []).append(node.digest)
    todo = [d for d, n in graph.manifests.items() if manifest_is_root(graph, n, at)]
    live: set[str] = set()
    while todo:
        digest = todo.pop()
        if digest in live:
            continue
        live.add(digest)
        todo.extend(graph.children.get(digest, ()))
        todo.extend(referrers.get(digest, ()))
    return live & graph.manifests.keys()


@dataclass(slots=True)
class GcReport:
    dry_run: bool
    ran: bool = True  # False when another collector held the lease
    manifests: list[tuple[int, str]] = field(default_factory=list)
    links: list[tuple[int, str]] = field(default_factory=list)
    blobs: list[str] = field(default_factory=list)
    bytes: int = 0
    # Soft-deleted packages and versions past the restore window, removed for good first.
    purged_packages: list[int] = field(default_factory=list)
    purged_versions: list[tuple[int, str]] = field(default_factory=list)
    # Stored bytes no blob row knew (and their size): a push that never linked them.
    orphans: list[str] = field(default_factory=list)
    orphan_bytes: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "dry_run": self.dry_run,
            "ran": self.ran,
            "manifests": len(self.manifests),
            "links": len(self.links),
            "blobs": len(self.blobs),
            "bytes": self.bytes,
            "purged_packages": len(self.purged_packages),
            "purged_versions": len(self.purged_versions),
            "orphans": len(self.orphans),
            "orphan_bytes": self.orphan_bytes,
        }


# --- the lease --------------------------------------------------------------------------------


def acquire_lease(conn: Connection, holder: str, at: datetime, ttl: timedelta = LEASE_TTL) -> bool:
    """Take or renew the collector's lease; False while another holder's lease is unexpired."""
    lease = s.gc_lease.c
    if conn.execute(select(lease.name).where(lease.name == LEASE)).first() is None:
        insert_ignore(conn, s.gc_lease, name=LEASE, holder=None, expires_at=None)
    taken = conn.execute(
        update(s.gc_lease)
        .where(
            lease.name == LEASE,
            or_(lease.holder.is_(None), lease.holder == holder, lease.expires_at < at),
        )
        .values(holder=holder, expires_at=at + ttl)
    ).rowcount
    return bool(taken)


def release_lease(conn: Connection, holder: str) -> None:
    lease = s.gc_lease.c
    conn.execute(
        update(s.gc_lease)
        .where(lease.name == LEASE, lease.holder == holder)
        .values(holder=None, expires_at=None)
    )


# --- reading the graph ------------------------------------------------------------------------


def load_graphs(conn: Connection, package_id: int | None = None) -> dict[int, PackageGraph]:
    """Every package's graph (or one package's) in three queries, whatever the count."""
    m, t, r = s.manifests.c, s.tags.c, s.manifest_refs.c
    graphs: dict[int, PackageGraph] = {}

    def graph(pid: int) -> PackageGraph:
        found = graphs.get(pid)
        if found is None:
            found = graphs[pid] = PackageGraph(pid)
        return found

    query = select(m.package_id, m.digest, m.subject_digest, m.created_at, m.generation)
    tags = select(t.package_id, t.digest)
    refs = select(r.package_id, r.parent_digest, r.child_digest).where(r.kind == "manifest")
    if package_id is not None:
        query = query.where(m.package_id == package_id)
        tags = tags.where(t.package_id == package_id)
        refs = refs.where(r.package_id == package_id)
    for row in conn.execute(query):
        created = aware(row.created_at)
        assert created is not None
        graph(int(row.package_id)).manifests[row.digest] = ManifestNode(
            row.digest, row.subject_digest, created, int(row.generation)
        )
    for tag in conn.execute(tags):
        graph(int(tag.package_id)).tagged.add(tag.digest)
    for edge in conn.execute(refs):
        kids = graph(int(edge.package_id)).children
        kids.setdefault(edge.parent_digest, set()).add(edge.child_digest)
    return graphs


def load_graph(conn: Connection, package_id: int) -> PackageGraph:
    return load_graphs(conn, package_id).get(package_id) or PackageGraph(package_id)


def _unreferenced_link(package_id: Any, digest: Any) -> ColumnElement[bool]:
    r = s.manifest_refs.c
    return ~exists().where(r.package_id == package_id, r.child_digest == digest, r.kind == "blob")


def link_candidates(conn: Connection, cutoff: datetime) -> list[tuple[int, str, int]]:
    pb = s.package_blobs.c
    rows = conn.execute(
        select(pb.package_id, pb.digest, pb.generation).where(
            pb.created_at < cutoff, _unreferenced_link(pb.package_id, pb.digest)
        )
    )
    return [(int(row.package_id), row.digest, int(row.generation)) for row in rows]


def _unlinked(digest: Any) -> ColumnElement[bool]:
    return ~exists().where(s.package_blobs.c.digest == digest)


def blob_candidates(conn: Connection) -> list[tuple[str, int, int]]:
    b = s.blobs.c
    rows = conn.execute(
        select(b.digest, b.generation, b.size).where(b.state == "live", _unlinked(b.digest))
    )
    return [(row.digest, int(row.generation), int(row.size)) for row in rows]


# --- the conditional deletes ------------------------------------------------------------------


def delete_manifest_if_unchanged(
    conn: Connection, package_id: int, digest: str, generation: int
) -> bool:
    """Delete a dead manifest unless something claimed it (generation), tags it or lists it."""
    m, t, r = s.manifests.c, s.tags.c, s.manifest_refs.c
    gone = conn.execute(
        delete(s.manifests).where(
            m.package_id == package_id,
            m.digest == digest,
            m.generation == generation,
            ~exists().where(t.package_id == package_id, t.digest == digest),
            ~exists().where(
                r.package_id == package_id, r.child_digest == digest, r.kind == "manifest"
            ),
        )
    ).rowcount
    if gone:
        conn.execute(
            delete(s.manifest_refs).where(r.package_id == package_id, r.parent_digest == digest)
        )
    return bool(gone)


def delete_links_if_unchanged(
    conn: Connection, links: list[tuple[int, str, int]]
) -> list[tuple[int, str]]:
    """Delete the links (package, digest, generation seen) still unreferenced and unchanged,
    in one statement; returns those deleted. A row whose generation moved is not matched (on
    PostgreSQL also when it moved while this statement waited for its lock: the WHERE clause
    is re-checked on the new row version)."""
    if not links:
        return []
    pb = s.package_blobs.c
    rows = conn.execute(
        delete(s.package_blobs)
        .where(
            tuple_(pb.package_id, pb.digest, pb.generation).in_(links),
            _unreferenced_link(pb.package_id, pb.digest),
        )
        .returning(pb.package_id, pb.digest)
    )
    return [(int(row.package_id), row.digest) for row in rows]


def delete_link_if_unchanged(conn: Connection, package_id: int, digest: str, gen: int) -> bool:
    return bool(delete_links_if_unchanged(conn, [(package_id, digest, gen)]))


def mark_blobs_if_unchanged(conn: Connection, blobs: list[tuple[str, int]]) -> list[str]:
    """Mark "deleting" the blobs (digest, generation seen) still live, unlinked and unchanged,
    in one statement; returns those marked."""
    if not blobs:
        return []
    b = s.blobs.c
    rows = conn.execute(
        update(s.blobs)
        .where(
            tuple_(b.digest, b.generation).in_(blobs),
            b.state == "live",
            _unlinked(b.digest),
        )
        .values(state="deleting")
        .returning(b.digest)
    )
    return [row.digest for row in rows]


def mark_blob_if_unchanged(conn: Connection, digest: str, generation: int) -> bool:
    return bool(mark_blobs_if_unchanged(conn, [(digest, generation)]))


def marked_blobs(conn: Connection) -> list[tuple[str, int]]:
    b = s.blobs.c
    rows = conn.execute(select(b.digest, b.size).where(b.state == "deleting"))
    return [(row.digest, int(row.size)) for row in rows]


def forget_blobs(conn: Connection, digests: list[str]) -> None:
    b = s.blobs.c
    conn.execute(delete(s.blobs).where(and_(b.digest.in_(digests), b.state == "deleting")))


def rowless(conn: Connection, digests: list[str]) -> set[str]:
    """Those of ``digests`` that no ``blobs`` row (live or "deleting") knows."""
    b = s.blobs.c
    known = set(conn.execute(select(b.digest).where(b.digest.in_(digests))).scalars())
    return set(digests) - known


def mark_orphans(conn: Connection, found: list[BlobInfo], at: datetime) -> list[str]:
    """Insert a "deleting" row for each stored blob of ``found`` that has no row, in one
    statement; returns those inserted (only their bytes may be deleted). A row that exists, or
    that an uncommitted link is inserting (PostgreSQL waits for that transaction), wins."""
    if not found:
        return []
    b = s.blobs.c
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    rows = [
        {"digest": i.digest, "size": i.size, "created_at": at, "state": "deleting"} for i in found
    ]
    stmt = insert(s.blobs).values(rows).on_conflict_do_nothing().returning(b.digest)
    return [row.digest for row in conn.execute(stmt)]


# --- one collection ---------------------------------------------------------------------------


def _batches(items: list[tuple[int, str, int]], size: int) -> Iterable[list[tuple[int, str, int]]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _pages(
    listing: Iterator[tuple[BlobInfo, float]], size: int
) -> Iterator[list[tuple[BlobInfo, float]]]:
    page: list[tuple[BlobInfo, float]] = []
    for item in listing:
        page.append(item)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page


class Collector:
    """One collection over the whole database and store; blocking (run it on a thread).

    ``clock`` is injectable for tests (the grace period is measured with it).
    """

    def __init__(
        self,
        engine: Engine,
        store: BlobStore,
        grace: timedelta,
        *,
        clock: Callable[[], datetime] = now,
        holder: str | None = None,
        restore_window: timedelta | None = None,
    ) -> None:
        self._engine = engine
        self._restore_window = restore_window
        self._store = store
        self._grace = grace
        self._clock = clock
        self.holder = holder or uuid.uuid4().hex
        self._renewed = clock()

    def collect(self, dry_run: bool = False) -> GcReport:
        report = GcReport(dry_run)
        if not dry_run and not self._lease():
            report.ran = False
            return report
        try:
            at = self._clock()
            cutoff = at - self._grace
            self._purge(report, at, dry_run)
            self._manifests(report, at, cutoff, dry_run)
            self._links(report, cutoff, dry_run)
            self._blobs(report, dry_run)
            self._orphans(report, cutoff, dry_run)
        finally:
            if not dry_run:
                with write(self._engine) as conn:
                    release_lease(conn, self.holder)
        return report

    def _purge(self, report: GcReport, at: datetime, dry: bool) -> None:
        """Remove for good the packages and versions deleted longer ago than the restore window
        (GitHub's 30 days); what only they referenced is then collected like any garbage."""
        if self._restore_window is None:
            return
        window = self._restore_window
        with self._engine.connect() as conn:
            found = lifecycle.purgeable(conn, at, window)
        if dry:
            report.purged_packages.extend(found.packages)
            report.purged_versions.extend(found.versions)
            return
        for package_id in found.packages:
            self._renew()
            with write(self._engine) as conn:
                if lifecycle.purge_package(conn, package_id):
                    report.purged_packages.append(package_id)
        for package_id, digest in found.versions:
            self._renew()
            with write(self._engine) as conn:
                if lifecycle.purge_version(conn, package_id, digest, at - window):
                    report.purged_versions.append((package_id, digest))

    def _lease(self) -> bool:
        at = self._clock()
        with write(self._engine) as conn:
            taken = acquire_lease(conn, self.holder, at)
        self._renewed = at
        return taken

    def _renew(self) -> None:
        """Renew the lease when a fifth of its time has passed (not on every batch)."""
        if self._clock() - self._renewed < LEASE_TTL / 5:
            return
        if not self._lease():
            raise RuntimeError("garbage collection lease lost")

    def _manifests(self, report: GcReport, at: datetime, cutoff: datetime, dry: bool) -> None:
        with self._engine.connect() as conn:
            graphs = load_graphs(conn)
        for package_id, graph in graphs.items():
            live = live_manifests(graph, at)
            dead = [
                n for d, n in graph.manifests.items() if d not in live and n.created_at < cutoff
            ]
            if dry:
                report.manifests.extend((package_id, n.digest) for n in dead)
                continue
            # Parents before children: a child is deletable once no dead index lists it.
            while dead:
                with write(self._engine) as conn:
                    left = [
                        n
                        for n in dead
                        if not delete_manifest_if_unchanged(
                            conn, package_id, n.digest, n.generation
                        )
                    ]
                report.manifests.extend((package_id, n.digest) for n in dead if n not in left)
                if len(left) == len(dead):
                    break  # the rest were claimed or are still listed: kept
                dead = left
                self._renew()

    def _links(self, report: GcReport, cutoff: datetime, dry: bool) -> None:
        with self._engine.connect() as conn:
            candidates = link_candidates(conn, cutoff)
        if dry:
            report.links.extend((p, d) for p, d, _ in candidates)
            return
        for batch in _batches(candidates, BATCH):
            with write(self._engine) as conn:
                report.links.extend(delete_links_if_unchanged(conn, batch))
            self._renew()

    def _blobs(self, report: GcReport, dry: bool) -> None:
        if dry:
            self._blobs_dry(report)
            return
        with self._engine.connect() as conn:
            candidates = blob_candidates(conn)
        for i in range(0, len(candidates), BATCH):
            batch = [(digest, gen) for digest, gen, _size in candidates[i : i + BATCH]]
            with write(self._engine) as conn:
                mark_blobs_if_unchanged(conn, batch)
            self._renew()
        # Only now, with the marks committed, do bytes go (also those of a crashed run).
        with self._engine.connect() as conn:
            marked = marked_blobs(conn)
        for i in range(0, len(marked), BATCH):
            batch = marked[i : i + BATCH]
            for digest, size in batch:
                self._store.delete(digest)
                report.blobs.append(digest)
                report.bytes += size
            with write(self._engine) as conn:
                forget_blobs(conn, [d for d, _ in batch])
            self._renew()

    def _blobs_dry(self, report: GcReport) -> None:
        """What would go: blobs with no link once the candidate links are gone."""
        pb, b = s.package_blobs.c, s.blobs.c
        going = set(report.links)
        with self._engine.connect() as conn:
            kept = {
                row.digest
                for row in conn.execute(select(pb.package_id, pb.digest))
                if (int(row.package_id), row.digest) not in going
            }
            for row in conn.execute(select(b.digest, b.size)):
                if row.digest not in kept:
                    report.blobs.append(row.digest)
                    report.bytes += int(row.size)

    def _orphans(self, report: GcReport, cutoff: datetime, dry: bool) -> None:
        """Delete the bytes stored before ``cutoff`` that no blob row knows: mark each with an
        inserted "deleting" row, then delete the bytes, then the row (the module docstring)."""
        limit = cutoff.timestamp()
        for page in _pages(self._store.iter_blobs(), BATCH):
            old = [info for info, mtime in page if mtime < limit]
            if old:
                with self._engine.connect() as conn:
                    unknown = rowless(conn, [info.digest for info in old])
                found = [info for info in old if info.digest in unknown]
                if found and not dry:
                    found = self._delete_orphans(found)
                report.orphans.extend(info.digest for info in found)
                report.orphan_bytes += sum(info.size for info in found)
            if not dry:
                self._renew()

    def _delete_orphans(self, found: list[BlobInfo]) -> list[BlobInfo]:
        with write(self._engine) as conn:
            marked = set(mark_orphans(conn, found, self._clock()))
        gone = [info for info in found if info.digest in marked]
        # Only now, with the marks committed, do the bytes go; a link that won has its row.
        for info in gone:
            self._store.delete(info.digest)
        if gone:
            with write(self._engine) as conn:
                forget_blobs(conn, [info.digest for info in gone])
        return gone
