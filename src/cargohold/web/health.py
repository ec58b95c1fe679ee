"""Probes for load balancers and orchestrators, outside ``/v2`` and without authentication.

``GET /healthz``: the process is alive and its event loop answers (no I/O; 200).
``GET /readyz``: the database and the blob store answer, each within ``READY_TIMEOUT`` seconds:
200 ``{"status": "ready", ...}``, else 503 with ``Retry-After`` and which one failed. The body
names components, never errors, hosts or credentials (the reason goes to the log).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiohttp import web
from sqlalchemy import text

from cargohold.services import Services
from cargohold.web.pipeline import SERVICES

READY_TIMEOUT = 5.0
RETRY_AFTER = "5"
_NO_STORE = {"Cache-Control": "no-store"}
# A digest no blob has in practice: stat() of it exercises the store without reading data.
_PROBE_DIGEST = "sha256:" + "0" * 64

log = logging.getLogger(__name__)


async def healthz(request: web.Request) -> web.StreamResponse:
    return web.json_response({"status": "alive"}, headers=_NO_STORE)


def _database(services: Services) -> None:
    with services.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _storage(services: Services) -> None:
    services.store.stat(_PROBE_DIGEST)


async def _check(services: Services, name: str, probe: Callable[[Services], None]) -> bool:
    try:
        await asyncio.wait_for(services.run(lambda: probe(services)), READY_TIMEOUT)
    except Exception as exc:  # any failure means "not ready"; the reason is for the log only
        log.warning("readyz: %s not ready: %s: %s", name, type(exc).__name__, exc)
        return False
    return True


async def readyz(request: web.Request) -> web.StreamResponse:
    services: Services = request.app[SERVICES]
    database, storage = await asyncio.gather(
        _check(services, "database", _database), _check(services, "storage", _storage)
    )
    checks = {
        "database": "ok" if database else "unavailable",
        "storage": "ok" if storage else "unavailable",
    }
    if database and storage:
        return web.json_response({"status": "ready", "checks": checks}, headers=_NO_STORE)
    return web.json_response(
        {"status": "unavailable", "checks": checks},
        status=503,
        headers={**_NO_STORE, "Retry-After": RETRY_AFTER},
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
