"""Finding 7: upload sessions belong to whoever opened them; one writer at a time.

Another user with write on the package could continue and finish someone else's session by its
id. And of two concurrent PATCHes on one session, the refused one cut the file back to the size
it saw at its start, destroying bytes the other had written.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from cargohold.accounts import service
from cargohold.authz.model import Role
from cargohold.db import schema as s
from cargohold.registry import package_settings
from support.registry_app import Registry, digest_of, push_blob


async def _two_writers(reg: Registry) -> tuple[dict[str, str], dict[str, str]]:
    alice, bob = reg.user("alice"), reg.user("bob")
    reg.db(lambda conn: service.create_org(conn, "acme", "alice"))
    await push_blob(reg.client, "acme/app", b"creates the package", headers=alice)
    reg.db(lambda conn: package_settings.grant(conn, "acme/app", Role.WRITE, user="bob"))
    return alice, bob


@pytest.mark.parametrize(
    ("method", "query"), [("PATCH", ""), ("PUT", "?digest="), ("GET", ""), ("DELETE", "")]
)
async def test_another_writer_cannot_touch_a_session_by_its_id(
    secured: Registry, method: str, query: str
) -> None:
    c = secured.client
    alice, bob = await _two_writers(secured)
    opened = await c.post("/v2/acme/app/blobs/uploads/", headers=alice)
    assert opened.status == 202
    location = opened.headers["Location"]
    data = b"bob's bytes"
    if query:
        query += digest_of(data)

    resp = await c.request(method, location + query, data=data, headers=bob)

    assert resp.status == 404
    if method != "HEAD":
        assert (await resp.json())["errors"][0]["code"] == "BLOB_UPLOAD_UNKNOWN"
    # Alice's session is untouched and still hers.
    mine = b"alice's bytes"
    done = await c.put(f"{location}?digest={digest_of(mine)}", data=mine, headers=alice)
    assert done.status == 201, await done.text()


async def _held_open(first: bytes, rest: bytes, gate: asyncio.Event) -> AsyncIterator[bytes]:
    yield first
    await gate.wait()
    yield rest


async def _claimed(reg: Registry) -> bool:
    for _ in range(1000):
        if reg.db(lambda conn: conn.execute(select(s.uploads.c.claim)).scalar()) is not None:
            return True
        await asyncio.sleep(0.01)
    return False


async def _patch_held_open(reg: Registry) -> tuple[str, asyncio.Event, asyncio.Task[Any]]:
    """A session, and a PATCH of 2,000 bytes that has sent half and holds the claim until
    the returned event is set: (location, event, the PATCH's task)."""
    c = reg.client
    opened = await c.post("/v2/acme/app/blobs/uploads/")
    location = opened.headers["Location"]
    gate = asyncio.Event()
    first: asyncio.Task[Any] = asyncio.create_task(
        c.patch(location, data=_held_open(b"a" * 1000, b"b" * 1000, gate))
    )
    assert await _claimed(reg), "the first PATCH never took the session"
    return location, gate, first


async def test_a_concurrent_patch_gets_416_and_loses_nothing(registry: Registry) -> None:
    c = registry.client
    location, gate, first = await _patch_held_open(registry)

    second = await c.patch(location, data=b"z" * 10, headers={"Content-Range": "0-9"})
    assert second.status == 416
    assert second.headers["Range"] == "0-0"  # nothing recorded yet

    gate.set()
    resp = await first
    assert resp.status == 202, await resp.text()
    assert resp.headers["Range"] == "0-1999"
    blob = b"a" * 1000 + b"b" * 1000
    done = await c.put(f"{location}?digest={digest_of(blob)}")
    assert done.status == 201, await done.text()
    assert await (await c.get(f"/v2/acme/app/blobs/{digest_of(blob)}")).read() == blob


async def test_a_live_but_stalled_writer_keeps_its_claim_past_the_ttl(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim is renewed on a timer, not by progress: a client that pauses mid-body for
    longer than CLAIM_TTL (within the body timeout) still owns the session, so a second
    request cannot take it over and write underneath it. Only a dead process's claim lapses."""
    from datetime import timedelta

    from cargohold.registry import upload_service, uploads

    monkeypatch.setattr(uploads, "CLAIM_TTL", timedelta(seconds=0.4))
    monkeypatch.setattr(upload_service, "RENEW_EVERY", 0.1)
    c = registry.client
    location, gate, first = await _patch_held_open(registry)
    await asyncio.sleep(1.2)  # three TTLs without a byte

    second = await c.patch(location, data=b"z" * 10, headers={"Content-Range": "0-9"})
    assert second.status == 416, await second.text()

    gate.set()
    resp = await first
    assert resp.status == 202, await resp.text()
    assert resp.headers["Range"] == "0-1999"
