"""Outages of the database or the blob store answer 503 with ``Retry-After``, never 500.

A replica behind a load balancer outlives its dependencies' restarts: a request that meets a
dropped database connection (PostgreSQL restarting, failing over) or a blob store that does not
answer gets ``503 UNAVAILABLE`` with ``Retry-After`` in the OCI error body, the broken connection
is discarded (``db.raw.ReadConnection``; the pool pre-pings), and the next request works again
without restarting anything. The liveness and readiness probes are in ``web.health``.

Nothing is half-written by an outage: every database change is one transaction, and blob bytes
become visible only by the store's atomic commit followed by the linking transaction.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy import exc as sa_exc

from cargohold.errors import ServiceUnavailableError, StorageError

log = logging.getLogger(__name__)

RETRY_AFTER = 5

_DATABASE_DOWN: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # the pool had no connection to give within its timeout
    sqlite3.OperationalError,  # "database is locked" past the busy timeout, disk gone
)
try:  # the raw hot-path reads raise the driver's own exceptions
    import psycopg

    _DATABASE_DOWN += (psycopg.OperationalError, psycopg.InterfaceError)
except ImportError:  # pragma: no cover - psycopg is a dependency
    pass


def outage(exc: BaseException) -> ServiceUnavailableError | None:
    """The 503 to answer for ``exc``, or None when ``exc`` is not an outage."""
    if isinstance(exc, _DATABASE_DOWN):
        return ServiceUnavailableError(
            "the database is unavailable; retry later",
            detail={"component": "database"},
            retry_after=RETRY_AFTER,
        )
    if isinstance(exc, StorageError):
        return ServiceUnavailableError(
            "the blob store is unavailable; retry later",
            detail={"component": "storage"},
            retry_after=RETRY_AFTER,
        )
    return None


@web.middleware
async def unavailable_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Inside ``error_middleware``: turn outages into ``ServiceUnavailableError`` (logged once,
    without the request's credentials)."""
    try:
        return await handler(request)
    except Exception as exc:
        err = outage(exc)
        if err is None:
            raise
        log.warning(
            "%s %s: %s unavailable: %s",
            request.method,
            request.path,
            err.detail["component"],
            type(exc).__name__,
        )
        raise err from exc
