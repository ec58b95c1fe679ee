"""Bodies reach the store in batches of the store's ``write_size``, and are hashed once.

On S3 a batch below the 5 MiB minimum part is read back by the next write and sent again,
folded into its first part; batches of a whole part never are. Runs on the real SeaweedFS of
the test run (skipped without it, failed under CI).
"""

from __future__ import annotations

import hashlib
import io
import os
from typing import Any

import pytest

from cargohold.storage.s3 import MIN_PART, S3BlobStore
from support.registry_app import Registry
from support.s3 import s3_options

MIB = 1024 * 1024


@pytest.fixture
async def on_s3(make_registry: Any) -> Registry:
    options = s3_options()
    reg: Registry = await make_registry(
        auth_enabled=False,
        storage="s3",
        s3_endpoint=options["endpoint"],
        s3_bucket=options["bucket"],
        s3_prefix=options["prefix"],
        s3_access_key_id=options["access_key_id"],
        s3_secret_access_key=options["secret_access_key"],
        s3_part_size=MIN_PART,
    )
    return reg


class Traffic:
    """What the store sent up and read back, observed around its real methods."""

    def __init__(self, store: S3BlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sent = 0
        self.read_back = 0
        put, read = store._put_segment, store._read_segment

        def counting_put(upload_id: str, start: int, data: Any) -> Any:
            self.sent += len(data)
            return put(upload_id, start, data)

        def counting_read(upload_id: str, segment: Any) -> Any:
            data = read(upload_id, segment)
            self.read_back += len(data)
            return data

        monkeypatch.setattr(store, "_put_segment", counting_put)
        monkeypatch.setattr(store, "_read_segment", counting_read)


async def test_monolithic_body_is_sent_once(
    on_s3: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = on_s3.services.store
    assert isinstance(store, S3BlobStore)
    assert store.write_size == MIN_PART and store.hashes_writes
    traffic = Traffic(store, monkeypatch)
    data = os.urandom(4 * MIN_PART + 12_345)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    resp = await on_s3.client.post(
        f"/v2/acme/app/blobs/uploads/?digest={digest}", data=io.BytesIO(data)
    )
    assert resp.status == 201, await resp.text()
    assert (traffic.sent, traffic.read_back) == (len(data), 0)
    got = await on_s3.client.get(f"/v2/acme/app/blobs/{digest}")
    assert await got.read() == data


async def test_chunked_upload_reads_back_only_short_chunk_ends(
    on_s3: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PATCHes of 12 MiB over 5 MiB parts. A PATCH that starts off a part boundary reads the
    short segment before it back once and realigns; nothing else is read back or sent twice.
    """
    store = on_s3.services.store
    assert isinstance(store, S3BlobStore)
    traffic = Traffic(store, monkeypatch)
    data = os.urandom(36 * MIB)
    client = on_s3.client
    resp = await client.post("/v2/acme/app/blobs/uploads/")
    url = resp.headers["Location"]
    for start in range(0, len(data), 12 * MIB):
        chunk = data[start : start + 12 * MIB]
        resp = await client.patch(
            url,
            data=io.BytesIO(chunk),
            headers={"Content-Range": f"{start}-{start + len(chunk) - 1}"},
        )
        assert resp.status == 202, await resp.text()
        url = resp.headers["Location"]
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    resp = await client.put(f"{url}?digest={digest}")
    assert resp.status == 201, await resp.text()
    # PATCH 1: parts [0,5) [5,10), short segment [10,12). PATCH 2 folds [10,12) into
    # [10,15), then [15,20), short [20,24). PATCH 3 folds [20,24) into [20,25), then
    # [25,30) [30,35), short [35,36). Read back: 2 + 4 MiB.
    assert traffic.read_back == 6 * MIB
    assert traffic.sent == len(data) + traffic.read_back
