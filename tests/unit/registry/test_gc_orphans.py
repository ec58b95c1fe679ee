"""Garbage collection of stored bytes no blob row knows, and its races with pushes, on SQLite
and PostgreSQL.

As in ``test_gc``, each race is driven step by step: the collector's listing and SELECT, the
push's store commit and link, the collector's conditional INSERT of the "deleting" mark and its
deletes, in every order the protocol (``registry.gc``, "Bytes with no row") must survive.
"""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from cargohold.db import schema as s
from cargohold.db.tx import now, write
from cargohold.registry import blobs, gc
from cargohold.registry.gc import Collector
from cargohold.storage import BlobInfo, BlobStore
from support.fixtures import db_url, make_registry, registry
from support.registry_app import Registry, digest_of, push_blob

__all__ = ["db_url", "make_registry", "registry"]

HOUR = 3600


def collector(reg: Registry, *, at: datetime | None = None, grace: int = 0) -> Collector:
    when = at or now() + timedelta(minutes=5)
    return Collector(
        reg.services.engine, reg.services.store, timedelta(seconds=grace), clock=lambda: when
    )


def orphan(store: BlobStore, data: bytes, *, age: int = 0) -> BlobInfo:
    """Store ``data`` with no database row (a push that died before linking), ``age`` seconds
    old (the registry's store is a filesystem one)."""
    upload_id = store.begin_upload()
    store.write(upload_id, 0, [data])
    info = store.commit(upload_id, digest_of(data))
    if age:
        path = store.local_path(info.digest)
        assert path is not None
        then = now().timestamp() - age
        os.utime(path, (then, then))
    return info


def rows(reg: Registry) -> dict[str, str]:
    b = s.blobs.c
    return dict(reg.db(lambda c: c.execute(select(b.digest, b.state)).all()))


def stored(reg: Registry, digest: str) -> bool:
    return reg.services.store.stat(digest) is not None


def package_id(reg: Registry) -> int:
    return int(reg.db(lambda c: c.execute(select(s.packages.c.id)).scalar()))


async def test_old_bytes_with_no_row_go_young_ones_and_linked_ones_stay(registry: Registry) -> None:
    store = registry.services.store
    linked = await push_blob(registry.client, "acme/app", b"a linked layer")
    path = store.local_path(linked)
    assert path is not None
    os.utime(path, (0, 0))  # however old its bytes, a blob with a row is not an orphan's
    old = orphan(store, b"left by a push that died", age=2 * HOUR)
    young = orphan(store, b"a push about to link it")

    report = collector(registry, at=now(), grace=HOUR).collect()
    assert report.orphans == [old.digest] and report.orphan_bytes == old.size
    assert report.as_dict()["orphans"] == 1 and report.blobs == []
    assert not stored(registry, old.digest) and old.digest not in rows(registry)
    assert stored(registry, young.digest) and stored(registry, linked)
    assert rows(registry) == {linked: "live"}
    resp = await registry.client.get(f"/v2/acme/app/blobs/{linked}")
    assert resp.status == 200 and await resp.read() == b"a linked layer"
    # Past the grace period the young one goes too; then nothing is left to find.
    assert collector(registry).collect().orphans == [young.digest]
    assert collector(registry).collect().orphans == []


async def test_dry_run_lists_orphaned_bytes_and_changes_nothing(registry: Registry) -> None:
    info = orphan(registry.services.store, b"stray bytes")
    report = collector(registry).collect(dry_run=True)
    assert (report.orphans, report.orphan_bytes) == ([info.digest], info.size)
    assert stored(registry, info.digest) and rows(registry) == {}


async def test_a_push_that_links_before_the_mark_keeps_the_bytes(registry: Registry) -> None:
    data = b"content pushed again"
    info = orphan(registry.services.store, data, age=2 * HOUR)
    # The collector lists the store and finds no row...
    listed = [i for i, _ in registry.services.store.iter_blobs()]
    assert registry.db(lambda c: gc.rowless(c, [info.digest])) == {info.digest}
    # ... a push of the same content keeps the old copy (old mtime) and links it ...
    assert await push_blob(registry.client, "acme/app", data) == info.digest
    # ... and the collector's conditional INSERT finds the row: nothing is marked or deleted.
    assert registry.db(lambda c: gc.mark_orphans(c, listed, now())) == []
    assert rows(registry) == {info.digest: "live"} and stored(registry, info.digest)
    # Its bytes are old, but it has a row: a collection (within the link's grace) keeps them.
    assert collector(registry, at=now(), grace=HOUR).collect().orphans == []
    resp = await registry.client.get(f"/v2/acme/app/blobs/{info.digest}")
    assert resp.status == 200 and await resp.read() == data


async def test_a_push_that_meets_the_mark_waits_then_stores_afresh(registry: Registry) -> None:
    data = b"content being collected"
    info = orphan(registry.services.store, data, age=2 * HOUR)
    assert registry.db(lambda c: gc.mark_orphans(c, [info], now())) == [info.digest]
    push = asyncio.ensure_future(push_blob(registry.client, "acme/app", data))
    await asyncio.sleep(0.3)
    assert not push.done()  # it waits out the "deleting" row before its store commit
    assert registry.services.store.delete(info.digest)
    registry.db(lambda c: gc.forget_blobs(c, [info.digest]))
    assert await push == info.digest
    assert rows(registry) == {info.digest: "live"}
    resp = await registry.client.get(f"/v2/acme/app/blobs/{info.digest}")
    assert resp.status == 200 and await resp.read() == data


@pytest.mark.parametrize("collector_done", [False, True])
async def test_bytes_deleted_between_a_push_s_store_commit_and_its_link_refuse_the_push(
    registry: Registry, monkeypatch: pytest.MonkeyPatch, collector_done: bool
) -> None:
    """The race the mark exists for: the push's store commit finds the bytes already stored
    (and drops its own copy); the collector marks and deletes them; then the push links."""
    store = registry.services.store
    data = b"content stored once, long ago"
    info = orphan(store, data, age=2 * HOUR)
    commit = store.commit

    def commit_then_collect(*args: Any, **kwargs: Any) -> BlobInfo:
        committed = commit(*args, **kwargs)
        assert stored(registry, info.digest) and rows(registry) == {}
        assert registry.db(lambda c: gc.mark_orphans(c, [info], now())) == [info.digest]
        assert store.delete(info.digest)
        if collector_done:
            registry.db(lambda c: gc.forget_blobs(c, [info.digest]))
        return committed

    monkeypatch.setattr(store, "commit", commit_then_collect)
    resp = await registry.client.post(
        f"/v2/acme/app/blobs/uploads/?digest={info.digest}", data=data
    )
    assert resp.status == 503 and "push it again" in await resp.text()
    monkeypatch.undo()
    # No row points at missing bytes: there is none (or only the collector's mark).
    assert not stored(registry, info.digest)
    assert rows(registry) == ({} if collector_done else {info.digest: "deleting"})
    assert registry.count("package_blobs") == 0
    collector(registry, at=now(), grace=HOUR).collect()  # finishes a mark left behind
    assert rows(registry) == {}
    # Pushing again stores the content afresh.
    assert await push_blob(registry.client, "acme/app", data) == info.digest
    resp = await registry.client.get(f"/v2/acme/app/blobs/{info.digest}")
    assert resp.status == 200 and await resp.read() == data


async def test_a_link_after_the_collection_finds_no_bytes_and_records_nothing(
    registry: Registry,
) -> None:
    await push_blob(registry.client, "acme/app", b"makes the package")
    info = orphan(registry.services.store, b"collected bytes", age=2 * HOUR)
    assert collector(registry, at=now(), grace=HOUR).collect().orphans == [info.digest]
    pid = package_id(registry)

    def late_link(conn: Any) -> bool:
        return blobs.link(conn, pid, info.digest, info.size, lambda: stored(registry, info.digest))

    assert not registry.db(late_link)
    assert info.digest not in rows(registry)


async def test_a_collection_finishes_what_a_crashed_one_marked(registry: Registry) -> None:
    info = orphan(registry.services.store, b"half collected", age=2 * HOUR)
    assert registry.db(lambda c: gc.mark_orphans(c, [info], now())) == [info.digest]
    # The collector died here: marked, bytes still stored. The next one deletes both.
    report = collector(registry, at=now(), grace=HOUR).collect()
    assert report.blobs == [info.digest] and report.orphans == []
    assert not stored(registry, info.digest) and rows(registry) == {}


def _in_thread(fn: Any) -> Any:
    """Run ``fn`` on another thread (its own connection); the returned future gives its result."""
    import concurrent.futures

    pool = concurrent.futures.ThreadPoolExecutor(1)
    future = pool.submit(fn)
    pool.shutdown(wait=False)
    return future


async def test_postgres_one_insert_wins_between_the_link_and_the_mark(
    registry: Registry, db_url: str
) -> None:
    """READ COMMITTED: the second INSERT of the key waits for the first transaction, then sees
    the conflict, whichever side came first."""
    if not db_url.startswith("postgresql"):
        return  # SQLite serialises write transactions; the step-by-step tests cover it
    engine, store = registry.services.engine, registry.services.store
    await push_blob(registry.client, "acme/app", b"makes the package")
    pid = package_id(registry)
    first = orphan(store, b"linked first", age=2 * HOUR)
    second = orphan(store, b"marked first", age=2 * HOUR)

    def has(info: BlobInfo) -> Any:
        return lambda: stored(registry, info.digest)

    # 1. The link inserts the row; the collector's mark waits for it, then inserts nothing.
    with write(engine) as link:
        assert blobs.link(link, pid, first.digest, first.size, has(first))
        pending = _in_thread(lambda: registry.db(lambda c: gc.mark_orphans(c, [first], now())))
    assert pending.result(timeout=60) == []
    assert rows(registry)[first.digest] == "live"

    # 2. The collector marks first; the link's INSERT waits, then finds the mark: refused.
    with write(engine) as mark:
        assert gc.mark_orphans(mark, [second], now()) == [second.digest]
        pending = _in_thread(
            lambda: registry.db(
                lambda c: blobs.link(c, pid, second.digest, second.size, has(second))
            )
        )
    assert pending.result(timeout=60) is False
    assert rows(registry)[second.digest] == "deleting"
    report = collector(registry, at=now(), grace=HOUR).collect()
    assert report.blobs == [second.digest] and not stored(registry, second.digest)
    assert stored(registry, first.digest) and rows(registry)[first.digest] == "live"
