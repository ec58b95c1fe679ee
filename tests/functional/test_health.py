"""``/healthz`` and ``/readyz`` for load balancers: no authentication, no secrets in the body,
503 with ``Retry-After`` naming the component that does not answer."""

from __future__ import annotations

from sqlalchemy import create_engine

from cargohold.storage.s3 import S3BlobStore
from support.registry_app import Registry


async def test_healthz_answers_without_credentials(secured: Registry) -> None:
    resp = await secured.client.get("/healthz")
    assert resp.status == 200
    assert (await resp.json()) == {"status": "alive"}
    assert resp.headers["Cache-Control"] == "no-store"


async def test_readyz_checks_database_and_storage(secured: Registry) -> None:
    resp = await secured.client.get("/readyz")
    assert resp.status == 200
    assert (await resp.json()) == {
        "status": "ready",
        "checks": {"database": "ok", "storage": "ok"},
    }


async def test_readyz_is_503_when_the_database_is_unreachable(registry: Registry) -> None:
    real = registry.services.engine
    registry.services.db.engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        resp = await registry.client.get("/readyz")
    finally:
        registry.services.db.engine.dispose()
        registry.services.db.engine = real
    assert resp.status == 503
    assert resp.headers["Retry-After"] == "5"
    body = await resp.json()
    assert body["checks"] == {"database": "unavailable", "storage": "ok"}
    assert "127.0.0.1" not in await resp.text()


async def test_readyz_is_503_when_the_store_is_unreachable(registry: Registry) -> None:
    real = registry.services.store
    registry.services.store = S3BlobStore(
        endpoint="http://127.0.0.1:1",
        bucket="nowhere",
        access_key_id="probe-key",
        secret_access_key="probe-secret-never-shown",
    )
    try:
        resp = await registry.client.get("/readyz")
    finally:
        registry.services.store = real
    assert resp.status == 503
    assert (await resp.json())["checks"] == {"database": "ok", "storage": "unavailable"}
    assert "probe-secret" not in await resp.text()
