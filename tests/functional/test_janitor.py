"""Sweeping abandoned uploads: old sessions and orphaned temporary objects go, nothing else."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import text

from cargohold.db.tx import now
from cargohold.registry.janitor import sweep
from support.registry_app import Registry, digest_of, push_blob

NAME = "acme/app"
DAY = timedelta(days=1)


async def test_sweep_removes_only_what_is_abandoned(registry: Registry) -> None:
    c = registry.client
    kept_blob = await push_blob(c, NAME, b"a committed blob")
    old = await c.post(f"/v2/{NAME}/blobs/uploads/")
    await c.patch(old.headers["Location"], data=b"abandoned bytes")
    fresh = await c.post(f"/v2/{NAME}/blobs/uploads/")
    await c.patch(fresh.headers["Location"], data=b"in progress")
    registry.db(
        lambda conn: conn.execute(
            text("UPDATE uploads SET updated_at = :t WHERE id = :id"),
            {"t": now() - 2 * DAY, "id": old.headers["Location"].rsplit("/", 1)[1]},
        )
    )
    store = registry.services.store
    orphan_old, orphan_new = store.begin_upload(), store.begin_upload()
    two_days_ago = time.time() - 2 * DAY.total_seconds()
    for path in registry.upload_files():
        if path.endswith(orphan_old):
            os.utime(path, (two_days_ago, two_days_ago))
    before_blobs = registry.blob_files()

    swept: Any = registry.db(lambda conn: sweep(conn, store, DAY, now()))

    assert (swept.sessions, swept.orphans) == (1, 1)
    assert (await c.get(old.headers["Location"])).status == 404
    assert (await c.get(fresh.headers["Location"])).status == 204
    remaining = {p.rsplit("/", 1)[1] for p in registry.upload_files()}
    assert orphan_new in remaining and orphan_old not in remaining
    assert registry.blob_files() == before_blobs
    assert (await c.head(f"/v2/{NAME}/blobs/{kept_blob}")).status == 200
    # The fresh session still completes.
    done = await c.put(f"{fresh.headers['Location']}?digest={digest_of(b'in progress')}")
    assert done.status == 201
