"""A database or blob-store outage answers 503 UNAVAILABLE with ``Retry-After`` (never 500),
writes nothing half-way, and the next request after recovery works without a restart."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, text

from support.registry_app import Registry, digest_of, push_image


def _terminate_other_backends(url: str) -> int:
    """Kill every other session of the test database, as a PostgreSQL restart would."""
    engine = create_engine(url)
    with engine.begin() as conn:
        killed = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar()
    engine.dispose()
    return int(killed or 0)


async def _unavailable(resp: Any, component: str) -> None:
    assert resp.status == 503, await resp.text()
    assert resp.headers["Retry-After"] == "5"
    body = await resp.json()
    assert body["errors"][0]["code"] == "UNAVAILABLE"
    assert body["errors"][0]["detail"] == {"component": component}


@pytest.mark.postgres
async def test_dropped_database_connections_are_503_then_recover(
    make_registry: Any, db_url: str
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("the event loop's read connection is dropped only by a server")
    reg: Registry = await make_registry(auth_enabled=False)
    await push_image(reg.client, "acme/app", "v1")
    assert (await reg.client.get("/v2/acme/app/tags/list")).status == 200
    assert _terminate_other_backends(db_url) >= 1
    # The loop's read connection is dead: this request meets it and answers 503 ...
    await _unavailable(await reg.client.get("/v2/acme/app/tags/list"), "database")
    # ... and the next one takes a fresh connection: no restart.
    resp = await reg.client.get("/v2/acme/app/tags/list")
    assert resp.status == 200
    assert (await resp.json())["tags"] == ["v1"]
    # Writes, on pooled connections, recover too (the pool pre-pings): once the loop's read
    # connection has been replaced by one 503, a whole push goes through.
    _terminate_other_backends(db_url)
    await _unavailable(await reg.client.get("/v2/acme/app/tags/list"), "database")
    await push_image(reg.client, "acme/app", "v2", seed=b"y")


async def test_unreachable_blob_store_is_503_and_writes_nothing(make_registry: Any) -> None:
    reg: Registry = await make_registry(
        auth_enabled=False,
        storage="s3",
        s3_endpoint="http://127.0.0.1:1",
        s3_bucket="nowhere",
        s3_access_key_id="outage-key",
        s3_secret_access_key="outage-secret-never-shown",
    )
    data = b"some layer"
    resp = await reg.client.post(f"/v2/acme/app/blobs/uploads/?digest={digest_of(data)}", data=data)
    await _unavailable(resp, "storage")
    assert "outage-secret" not in await resp.text()
    resp = await reg.client.post("/v2/acme/app/blobs/uploads/")
    await _unavailable(resp, "storage")
    assert reg.count("uploads") == 0
    assert reg.count("blobs") == 0
