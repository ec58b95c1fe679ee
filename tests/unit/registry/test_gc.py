"""Garbage collection: what goes, what stays, and the push/collect races, on SQLite and PostgreSQL.

The races are driven step by step: the collector's read, then a push, then the collector's
conditional write (and the reverse), so each interleaving the protocol must survive is run.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from cargohold.db import schema as s
from cargohold.db.tx import now, write
from cargohold.registry import blobs, gc
from cargohold.registry.gc import Collector
from cargohold.registry.read_model import version_id
from support.fixtures import db_url, make_registry, registry
from support.registry_app import Registry, digest_of, manifest_for, push_blob, push_image

__all__ = ["db_url", "make_registry", "registry"]

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def later(minutes: int = 5) -> datetime:
    return now() + timedelta(minutes=minutes)


WINDOW = timedelta(days=30)  # the restore window of soft-deleted versions and packages


def collector(reg: Registry, *, at: datetime | None = None, grace: int = 0) -> Collector:
    when = at or later()
    return Collector(
        reg.services.engine,
        reg.services.store,
        timedelta(seconds=grace),
        clock=lambda: when,
        restore_window=WINDOW,
    )


def past_window() -> datetime:
    """A collection after the restore window of anything deleted now."""
    return now() + WINDOW + timedelta(minutes=5)


def blob_rows(reg: Registry) -> set[str]:
    return set(reg.db(lambda c: c.execute(select(s.blobs.c.digest)).scalars()))


def stored(reg: Registry, digest: str) -> bool:
    return reg.services.store.stat(digest) is not None


async def put_manifest(reg: Registry, name: str, ref: str, body: bytes, media: str) -> Any:
    return await reg.client.put(
        f"/v2/{name}/manifests/{ref}", data=body, headers={"Content-Type": media}
    )


async def test_unreferenced_blobs_go_after_the_grace_period(registry: Registry) -> None:
    kept_digest, _ = await push_image(registry.client, "acme/app", "v1")
    stray = await push_blob(registry.client, "acme/app", b"never referenced")
    # Within the grace period nothing goes.
    report = collector(registry, at=now(), grace=3600).collect()
    assert (report.links, report.blobs) == ([], [])
    report = collector(registry).collect()
    assert report.blobs == [stray] and report.bytes == len(b"never referenced")
    assert not stored(registry, stray) and stray not in blob_rows(registry)
    resp = await registry.client.get(f"/v2/acme/app/manifests/{kept_digest}")
    assert resp.status == 200
    for layer in json.loads(await resp.read())["layers"]:
        assert stored(registry, layer["digest"])
    # A second run finds nothing.
    assert collector(registry).collect().as_dict()["blobs"] == 0


async def test_deleted_manifest_frees_blobs_not_shared(registry: Registry) -> None:
    first, body = await push_image(registry.client, "acme/one", "v1", seed=b"a")
    await push_image(registry.client, "acme/two", "v1", seed=b"a")  # same blobs elsewhere
    other, _ = await push_image(registry.client, "acme/one", "v2", seed=b"b")
    assert (await registry.client.delete(f"/v2/acme/one/manifests/{first}")).status == 202
    # Within the restore window the deleted version keeps its blobs.
    assert collector(registry).collect().links == []
    report = collector(registry, at=past_window()).collect()
    assert report.purged_versions == [(report.purged_versions[0][0], first)]
    layer_a = json.loads(body)["layers"][0]["digest"]
    assert {d for _, d in report.links} >= {layer_a}
    assert report.blobs == []  # acme/two still uses them
    assert stored(registry, layer_a)
    assert (await registry.client.get(f"/v2/acme/one/blobs/{layer_a}")).status == 404
    assert (await registry.client.get(f"/v2/acme/two/blobs/{layer_a}")).status == 200
    assert (await registry.client.get(f"/v2/acme/one/manifests/{other}")).status == 200


async def test_dry_run_changes_nothing(registry: Registry) -> None:
    stray = await push_blob(registry.client, "acme/app", b"stray")
    report = collector(registry).collect(dry_run=True)
    assert report.blobs == [stray] and report.dry_run
    assert stored(registry, stray) and stray in blob_rows(registry)


async def test_index_keeps_children_and_referrers_follow_their_subject(registry: Registry) -> None:
    child, child_body = await push_image(registry.client, "acme/app", "tmp", seed=b"c")
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [{"mediaType": OCI_MANIFEST, "digest": child, "size": len(child_body)}],
        }
    ).encode()
    assert (await put_manifest(registry, "acme/app", "multi", index, OCI_INDEX)).status == 201
    assert (await registry.client.delete("/v2/acme/app/manifests/tmp")).status == 202
    # A signature whose subject is the child, its blob only its own.
    sig_blob = await push_blob(registry.client, "acme/app", b"signature bytes")
    empty = await push_blob(registry.client, "acme/app", b"{}")
    referrer = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.example.sig",
            "config": {
                "mediaType": "application/vnd.oci.empty.v1+json",
                "digest": empty,
                "size": 2,
            },
            "layers": [{"mediaType": "application/octet-stream", "digest": sig_blob, "size": 15}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": child, "size": len(child_body)},
        }
    ).encode()
    resp = await put_manifest(registry, "acme/app", digest_of(referrer), referrer, OCI_MANIFEST)
    assert resp.status == 201
    report = collector(registry).collect()
    assert report.manifests == [] and report.blobs == []  # child and signature live
    # Deleting the index, then the child: the orphaned signature and its blob go.
    index_digest = digest_of(index)
    assert (await registry.client.delete(f"/v2/acme/app/manifests/{index_digest}")).status == 202
    assert (await registry.client.delete(f"/v2/acme/app/manifests/{child}")).status == 202
    report = collector(registry, at=past_window()).collect()
    assert sorted(d for _, d in report.purged_versions) == sorted([index_digest, child])
    assert [d for _, d in report.manifests] == [digest_of(referrer)]
    assert sig_blob in report.blobs and not stored(registry, sig_blob)


async def test_a_referrer_never_keeps_its_subject_alive(registry: Registry) -> None:
    graph = gc.PackageGraph(1)
    t = now()
    graph.manifests = {
        "s": gc.ManifestNode("s", None, t, 0),
        "r": gc.ManifestNode("r", "s", t, 0),
        "rr": gc.ManifestNode("rr", "r", t, 0),
        "orphan": gc.ManifestNode("orphan", "gone", t, 0),
    }
    assert gc.live_manifests(graph, t) == {"s", "r", "rr"}
    del graph.manifests["s"]
    assert gc.live_manifests(graph, t) == set()
    graph.tagged = {"r"}  # a tagged referrer is kept for its own sake
    assert gc.live_manifests(graph, t) == {"r", "rr"}


async def test_put_after_the_collector_read_wins_and_keeps_the_blob(registry: Registry) -> None:
    config = await push_blob(registry.client, "acme/app", b'{"os":"linux"}')
    layer = await push_blob(registry.client, "acme/app", b"layer bytes")
    # The collector reads its candidates (both links unreferenced and past the grace)...
    candidates = registry.db(lambda c: gc.link_candidates(c, later()))
    assert {d for _, d, _ in candidates} == {config, layer}
    # ... a manifest PUT claims them and commits ...
    body = manifest_for(b'{"os":"linux"}', [b"layer bytes"])
    assert (await put_manifest(registry, "acme/app", "v1", body, OCI_MANIFEST)).status == 201
    # ... and the collector's conditional deletes keep them.
    for package_id, digest, gen in candidates:
        assert not registry.db(
            lambda c, p=package_id, d=digest, g=gen: gc.delete_link_if_unchanged(c, p, d, g)
        )
    collector(registry).collect()
    assert stored(registry, layer)
    assert (await registry.client.get(f"/v2/acme/app/blobs/{layer}")).status == 200


async def test_put_after_the_collector_deleted_the_link_is_manifest_blob_unknown(
    registry: Registry,
) -> None:
    await push_blob(registry.client, "acme/app", b'{"os":"linux"}')
    layer = await push_blob(registry.client, "acme/app", b"layer bytes")
    report = collector(registry).collect()
    assert layer in report.blobs
    body = manifest_for(b'{"os":"linux"}', [b"layer bytes"])
    resp = await put_manifest(registry, "acme/app", "v1", body, OCI_MANIFEST)
    assert resp.status == 400
    assert (await resp.json())["errors"][0]["code"] == "MANIFEST_BLOB_UNKNOWN"
    assert registry.count("manifests") == 0 and registry.count("tags") == 0


async def test_a_marked_blob_is_never_linked_again(registry: Registry) -> None:
    data = b"shared layer"
    digest = await push_blob(registry.client, "acme/src", data)
    ((package_id, _, gen),) = registry.db(lambda c: gc.link_candidates(c, later()))
    assert registry.db(lambda c: gc.delete_link_if_unchanged(c, package_id, digest, gen))
    ((_, bgen, _),) = registry.db(gc.blob_candidates)
    assert registry.db(lambda c: gc.mark_blob_if_unchanged(c, digest, bgen))
    # Neither a mount (no ``stored``) nor an upload's link may bring it back: its bytes are
    # about to be deleted.
    for check in (None, lambda: True):
        assert not registry.db(lambda c, f=check: blobs.link(c, package_id, digest, len(data), f))
    assert registry.count("package_blobs") == 0
    resp = await registry.client.post(f"/v2/acme/dst/blobs/uploads/?mount={digest}&from=acme/src")
    assert resp.status == 202  # no mount: an upload session instead


async def test_a_new_blob_row_needs_its_bytes_in_the_store(registry: Registry) -> None:
    digest = digest_of(b"never stored")
    reg_id = await push_image(registry.client, "acme/app", "v1")
    assert reg_id
    package_id = registry.db(lambda c: c.execute(select(s.packages.c.id)).scalar())
    assert not registry.db(lambda c: blobs.link(c, package_id, digest, 12, lambda: False))
    assert digest not in blob_rows(registry)


async def test_upload_of_content_being_collected_waits_then_stores_it_afresh(
    registry: Registry,
) -> None:
    data = b"resurrected layer"
    digest = await push_blob(registry.client, "acme/app", data)
    ((package_id, _, gen),) = registry.db(lambda c: gc.link_candidates(c, later()))
    assert registry.db(lambda c: gc.delete_link_if_unchanged(c, package_id, digest, gen))
    ((_, bgen, _),) = registry.db(gc.blob_candidates)
    assert registry.db(lambda c: gc.mark_blob_if_unchanged(c, digest, bgen))
    # A client pushes the same content while the collector is between mark and delete.
    push = asyncio.ensure_future(push_blob(registry.client, "acme/app", data))
    await asyncio.sleep(0.3)
    assert not push.done()  # it waits for the collection of the old copy
    registry.services.store.delete(digest)
    registry.db(lambda c: gc.forget_blobs(c, [digest]))
    assert await push == digest
    resp = await registry.client.get(f"/v2/acme/app/blobs/{digest}")
    assert resp.status == 200 and await resp.read() == data


async def test_the_lease_lets_one_collection_run(registry: Registry) -> None:
    engine = registry.services.engine
    with write(engine) as conn:
        assert gc.acquire_lease(conn, "replica-a", now())
    with write(engine) as conn:
        assert not gc.acquire_lease(conn, "replica-b", now())
    assert collector(registry, at=now()).collect().ran is False
    # An expired lease is taken over (its holder died).
    with write(engine) as conn:
        assert gc.acquire_lease(conn, "replica-b", now() + gc.LEASE_TTL + timedelta(seconds=1))
    with write(engine) as conn:
        gc.release_lease(conn, "replica-b")
    assert collector(registry).collect().ran is True


def _in_thread(fn: Any) -> Any:
    """Run ``fn`` on another thread (its own connection); the returned future gives its result."""
    import concurrent.futures

    pool = concurrent.futures.ThreadPoolExecutor(1)
    future = pool.submit(fn)
    pool.shutdown(wait=False)
    return future


async def test_postgres_row_locks_serialise_put_claim_and_collector_delete(
    registry: Registry, db_url: str
) -> None:
    """READ COMMITTED: the loser of the row lock re-checks ``generation`` and backs off."""
    if not db_url.startswith("postgresql"):
        return  # SQLite serialises write transactions; the step-by-step tests cover it
    from cargohold.registry.manifests import _stored_sizes

    engine = registry.services.engine
    digest = await push_blob(registry.client, "acme/app", b"contended layer")
    ((package_id, _, gen),) = registry.db(lambda c: gc.link_candidates(c, later()))

    # 1. The PUT claims the link first; the collector's delete waits for it, then skips.
    with write(engine) as put:
        assert _stored_sizes(put, package_id, {digest}, True) == {digest: 15}
        pending = _in_thread(
            lambda: registry.db(lambda c: gc.delete_link_if_unchanged(c, package_id, digest, gen))
        )
        put.execute(
            s.manifest_refs.insert().values(
                package_id=package_id,
                parent_digest="sha256:" + "1" * 64,
                child_digest=digest,
                kind="blob",
            )
        )
    assert pending.result(timeout=60) is False
    assert registry.count("package_blobs") == 1
    registry.db(lambda c: c.execute(s.manifest_refs.delete()))

    # 2. The collector deletes first; the PUT's claim waits, then finds no row.
    ((_, _, gen2),) = registry.db(lambda c: gc.link_candidates(c, later()))
    with write(engine) as collect:
        assert gc.delete_link_if_unchanged(collect, package_id, digest, gen2)
        pending = _in_thread(
            lambda: registry.db(lambda c: _stored_sizes(c, package_id, {digest}, True))
        )
    assert pending.result(timeout=60) == {}


async def test_a_collection_finishes_what_a_crashed_one_marked(registry: Registry) -> None:
    digest = await push_blob(registry.client, "acme/app", b"half collected")
    ((package_id, _, gen),) = registry.db(lambda c: gc.link_candidates(c, later()))
    assert registry.db(lambda c: gc.delete_link_if_unchanged(c, package_id, digest, gen))
    ((_, bgen, _),) = registry.db(gc.blob_candidates)
    assert registry.db(lambda c: gc.mark_blob_if_unchanged(c, digest, bgen))
    # The collector died here: marked, bytes still stored. The next one (even within the
    # grace period of everything else) deletes the bytes, then the row.
    report = collector(registry, at=now(), grace=3600).collect()
    assert report.blobs == [digest]
    assert not stored(registry, digest) and digest not in blob_rows(registry)


async def test_a_deleted_version_survives_collections_until_its_window_ends(
    registry: Registry,
) -> None:
    digest, body = await push_image(registry.client, "acme/app", "v1", seed=b"w")
    layer = json.loads(body)["layers"][0]["digest"]
    assert (await registry.client.delete(f"/v2/acme/app/manifests/{digest}")).status == 202
    assert (await registry.client.get(f"/v2/acme/app/manifests/{digest}")).status == 404
    # A day later: nothing of it goes, and it can still be restored whole.
    report = collector(registry, at=now() + timedelta(days=1)).collect()
    assert (report.purged_versions, report.links, report.blobs) == ([], [], [])
    assert stored(registry, layer)
    await registry.services.lifecycle.restore_version("acme/app", version_id(digest), by=None)
    assert (await registry.client.get("/v2/acme/app/manifests/v1")).status == 200
    # Deleted again, and collected past the window: purged, its blob reclaimed.
    assert (await registry.client.delete(f"/v2/acme/app/manifests/{digest}")).status == 202
    dry = collector(registry, at=past_window()).collect(dry_run=True)
    assert [d for _, d in dry.purged_versions] == [digest] and stored(registry, layer)
    report = collector(registry, at=past_window()).collect()
    assert [d for _, d in report.purged_versions] == [digest]
    assert layer in report.blobs and not stored(registry, layer)
    assert collector(registry, at=past_window()).collect().purged_versions == []


async def test_a_deleted_package_is_purged_after_its_window_and_its_name_freed(
    registry: Registry,
) -> None:
    digest, body = await push_image(registry.client, "acme/gone", "v1", seed=b"p")
    layer = json.loads(body)["layers"][0]["digest"]
    await registry.services.lifecycle.delete_package("acme/gone", by=None)
    assert collector(registry, at=now() + timedelta(days=29)).collect().purged_packages == []
    report = collector(registry, at=past_window()).collect()
    assert len(report.purged_packages) == 1
    assert layer in report.blobs and not stored(registry, layer)
    # The name is free again: a new push creates a new package.
    again, _ = await push_image(registry.client, "acme/gone", "v1", seed=b"p")
    assert again == digest
    assert (await registry.client.get("/v2/acme/gone/manifests/v1")).status == 200
