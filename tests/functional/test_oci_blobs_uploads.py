"""Blobs and uploads through the HTTP API (auth off), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from cargohold.services import build
from cargohold.web.app import create_app
from support.registry_app import Registry, digest_of, push_blob, settings_for

NAME = "acme/app"


async def error_code(resp: Any) -> str:
    body = await resp.json()
    return str(body["errors"][0]["code"])


async def test_monolithic_push_then_get_head_and_ranges(registry: Registry) -> None:
    c = registry.client
    data = os.urandom(100_000)
    digest = await push_blob(c, NAME, data)
    head = await c.head(f"/v2/{NAME}/blobs/{digest}")
    assert head.status == 200
    assert head.headers["Content-Length"] == str(len(data))
    assert head.headers["Docker-Content-Digest"] == digest
    got = await c.get(f"/v2/{NAME}/blobs/{digest}")
    assert await got.read() == data
    part = await c.get(f"/v2/{NAME}/blobs/{digest}", headers={"Range": "bytes=10-19"})
    assert part.status == 206
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    assert await part.read() == data[10:20]
    tail = await c.get(f"/v2/{NAME}/blobs/{digest}", headers={"Range": "bytes=-5"})
    assert await tail.read() == data[-5:]
    bad = await c.get(f"/v2/{NAME}/blobs/{digest}", headers={"Range": f"bytes={len(data)}-"})
    assert bad.status == 416
    assert bad.headers["Content-Range"] == f"bytes */{len(data)}"


async def test_unknown_blob_and_bad_digest(registry: Registry) -> None:
    c = registry.client
    await push_blob(c, NAME, b"x")
    missing = await c.get(f"/v2/{NAME}/blobs/{digest_of(b'nope')}")
    assert missing.status == 404
    assert await error_code(missing) == "BLOB_UNKNOWN"
    bad = await c.get(f"/v2/{NAME}/blobs/sha256:xyz")
    assert bad.status == 400
    assert await error_code(bad) == "DIGEST_INVALID"
    unknown_repo = await c.get(f"/v2/acme/other/blobs/{digest_of(b'x')}")
    assert unknown_repo.status == 404
    assert await error_code(unknown_repo) == "NAME_UNKNOWN"


async def test_blob_is_visible_only_in_its_repository(registry: Registry) -> None:
    c = registry.client
    digest = await push_blob(c, NAME, b"private bytes")
    await push_blob(c, "acme/other", b"something")
    resp = await c.head(f"/v2/acme/other/blobs/{digest}")
    assert resp.status == 404


async def test_post_put_and_chunked_patch(registry: Registry) -> None:
    c = registry.client
    data = os.urandom(3 * 1024 * 1024 + 17)
    digest = digest_of(data)
    start = await c.post(f"/v2/{NAME}/blobs/uploads/")
    assert start.status == 202
    location = start.headers["Location"]
    assert start.headers["Range"] == "0-0"
    step = 1024 * 1024
    for offset in range(0, len(data), step):
        chunk = data[offset : offset + step]
        resp = await c.patch(
            location,
            data=chunk,
            headers={
                "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
                "Content-Length": str(len(chunk)),
            },
        )
        assert resp.status == 202, await resp.text()
        assert resp.headers["Range"] == f"0-{offset + len(chunk) - 1}"
        location = resp.headers["Location"]
    status = await c.get(location)
    assert status.status == 204
    assert status.headers["Range"] == f"0-{len(data) - 1}"
    done = await c.put(f"{location}?digest={digest}")
    assert done.status == 201, await done.text()
    assert done.headers["Location"] == f"/v2/{NAME}/blobs/{digest}"
    got = await c.get(f"/v2/{NAME}/blobs/{digest}")
    assert await got.read() == data
    assert registry.upload_files() == set()


async def test_put_with_final_chunk(registry: Registry) -> None:
    c = registry.client
    start = await c.post(f"/v2/{NAME}/blobs/uploads/")
    first = await c.patch(start.headers["Location"], data=b"hello ")
    done = await c.put(
        f"{first.headers['Location']}?digest={digest_of(b'hello world')}", data=b"world"
    )
    assert done.status == 201, await done.text()


async def test_out_of_order_chunk_is_416_and_changes_nothing(registry: Registry) -> None:
    c = registry.client
    start = await c.post(f"/v2/{NAME}/blobs/uploads/")
    loc = start.headers["Location"]
    await c.patch(loc, data=b"abcd", headers={"Content-Range": "0-3"})
    skip = await c.patch(loc, data=b"efgh", headers={"Content-Range": "10-13"})
    assert skip.status == 416
    overlap = await c.patch(loc, data=b"cdef", headers={"Content-Range": "2-5"})
    assert overlap.status == 416
    status = await c.get(loc)
    assert status.headers["Range"] == "0-3"
    done = await c.put(f"{loc}?digest={digest_of(b'abcd')}")
    assert done.status == 201


async def test_content_range_and_length_disagree(registry: Registry) -> None:
    c = registry.client
    start = await c.post(f"/v2/{NAME}/blobs/uploads/")
    loc = start.headers["Location"]
    resp = await c.patch(loc, data=b"abcd", headers={"Content-Range": "0-9"})
    assert resp.status == 416
    assert (await c.get(loc)).headers["Range"] == "0-0"


async def test_digest_mismatch_discards_everything(registry: Registry) -> None:
    c = registry.client
    before = registry.blob_files()
    resp = await c.post(f"/v2/{NAME}/blobs/uploads/?digest={digest_of(b'other')}", data=b"content")
    assert resp.status == 400
    assert await error_code(resp) == "DIGEST_INVALID"
    assert registry.blob_files() == before
    assert registry.upload_files() == set()
    assert registry.count("uploads") == 0
    start = await c.post(f"/v2/{NAME}/blobs/uploads/")
    await c.patch(start.headers["Location"], data=b"abc")
    bad = await c.put(f"{start.headers['Location']}?digest={digest_of(b'abd')}")
    assert bad.status == 400
    assert registry.blob_files() == before
    assert registry.count("package_blobs") == 0


async def test_put_without_digest_and_bad_digest(registry: Registry) -> None:
    c = registry.client
    start = await c.post(f"/v2/{NAME}/blobs/uploads/")
    loc = start.headers["Location"]
    resp = await c.put(loc)
    assert resp.status == 400
    assert await error_code(resp) == "DIGEST_INVALID"
    resp = await c.put(f"{loc}?digest=md5:abc")
    assert resp.status == 400
    assert await error_code(resp) == "DIGEST_INVALID"


async def test_sha512_blob(registry: Registry) -> None:
    c = registry.client
    digest = digest_of(b"sha512 content", "sha512")
    resp = await c.post(f"/v2/{NAME}/blobs/uploads/?digest={digest}", data=b"sha512 content")
    assert resp.status == 201, await resp.text()
    got = await c.get(f"/v2/{NAME}/blobs/{digest}")
    assert await got.read() == b"sha512 content"


async def test_unknown_and_cancelled_session(registry: Registry) -> None:
    c = registry.client
    await push_blob(c, NAME, b"x")
    unknown = await c.get(f"/v2/{NAME}/blobs/uploads/{'0' * 32}")
    assert unknown.status == 404
    assert await error_code(unknown) == "BLOB_UPLOAD_UNKNOWN"
    start = await c.post(f"/v2/{NAME}/blobs/uploads/")
    loc = start.headers["Location"]
    await c.patch(loc, data=b"partial")
    cancel = await c.delete(loc)
    assert cancel.status == 204
    assert (await c.get(loc)).status == 404
    assert registry.upload_files() == set()
    other = await c.get(loc.replace(NAME, "acme/else"))
    assert other.status == 404


async def test_cross_repository_mount(registry: Registry) -> None:
    c = registry.client
    digest = await push_blob(c, NAME, b"shared layer")
    files = registry.blob_files()
    resp = await c.post(f"/v2/acme/second/blobs/uploads/?mount={digest}&from={NAME}")
    assert resp.status == 201
    assert resp.headers["Location"] == f"/v2/acme/second/blobs/{digest}"
    assert registry.blob_files() == files  # stored once
    fallback = await c.post(f"/v2/acme/second/blobs/uploads/?mount={digest_of(b'no')}&from={NAME}")
    assert fallback.status == 202
    assert "/blobs/uploads/" in fallback.headers["Location"]


async def test_blob_delete(registry: Registry) -> None:
    c = registry.client
    digest = await push_blob(c, NAME, b"to delete")
    resp = await c.delete(f"/v2/{NAME}/blobs/{digest}")
    assert resp.status == 202
    assert (await c.head(f"/v2/{NAME}/blobs/{digest}")).status == 404
    again = await c.delete(f"/v2/{NAME}/blobs/{digest}")
    assert again.status == 404


async def test_session_survives_restart_and_another_process(
    registry: Registry, tmp_path: Any, db_url: str
) -> None:
    """A second server (new Services on the same DB and storage) finishes the upload."""
    c = registry.client
    start = await c.post(f"/v2/{NAME}/blobs/uploads/")
    first = await c.patch(start.headers["Location"], data=b"first half, ")
    services = build(settings_for(tmp_path, db_url, auth_enabled=False), run_migrations=False)
    from aiohttp.test_utils import TestClient, TestServer

    other: TestClient[Any, Any] = TestClient(TestServer(create_app(services)))
    await other.start_server()
    try:
        loc = first.headers["Location"]
        status = await other.get(loc)
        assert status.status == 204
        assert status.headers["Range"] == f"0-{len(b'first half, ') - 1}"
        data = b"first half, second half"
        done = await other.put(f"{loc}?digest={digest_of(data)}", data=b"second half")
        assert done.status == 201, await done.text()
        got = await c.get(f"/v2/{NAME}/blobs/{digest_of(data)}")
        assert await got.read() == data
    finally:
        await other.close()
        services.close()


async def test_client_disconnect_mid_upload_leaves_session_intact(registry: Registry) -> None:
    c = registry.client
    start = await c.post(f"/v2/{NAME}/blobs/uploads/")
    loc = start.headers["Location"]
    await c.patch(loc, data=b"0123456789")
    host, port = c.server.host, c.server.port
    _reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        (
            f"PATCH {loc} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 1000000\r\n"
            "Content-Range: 10-1000009\r\n\r\n"
        ).encode()
        + b"z" * 5000
    )
    await writer.drain()
    await asyncio.sleep(0.2)
    writer.close()
    await asyncio.sleep(0.3)
    status = await c.get(loc)
    assert status.headers["Range"] == "0-9"
    done = await c.put(f"{loc}?digest={digest_of(b'0123456789')}")
    assert done.status == 201, await done.text()
    assert registry.count("package_blobs") == 1
