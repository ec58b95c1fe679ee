"""Bounds on what one slow or greedy client can hold: stalled bodies and connections per address.

Security finding 9: half-sent header blocks and half-sent PATCH bodies kept their connections
(and their tasks and buffers) open for as long as the client liked. Three bounds, all settings:

    connection opens ──> more than max_connections_per_client from this address? ──> abort
          │
    header block complete within header_timeout?   (aiohttp's keep-alive timer: it starts at
          │  no ──> closed                            connect and after every response, and
          │                                           closes a connection still waiting for a
          │                                           complete request)
    handler reads the body: a byte within body_timeout of the last one? no ──> abort
          (the clock stops while the server itself has paused reading: backpressure is ours)

``Guard`` wraps aiohttp's per-connection protocol (``RequestHandler``) and forwards every
callback to it; it sees each byte arrive and counts connections per address. The
``watch_bodies`` middleware tells the connection's guard which request body is being read.
Counts are per worker process (each has its own listening socket under SO_REUSEPORT).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import cast

from aiohttp import web
from aiohttp.streams import StreamReader
from aiohttp.typedefs import Middleware

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Limits:
    """The per-worker bookkeeping shared by every ``Guard``."""

    body_timeout: float
    max_per_client: int
    open_by_client: dict[str, int] = field(default_factory=dict)
    guards: dict[asyncio.BaseTransport, Guard] = field(default_factory=dict)

    def admit(self, client: str) -> bool:
        """Count one more connection from ``client``; False (and not counted) past the cap."""
        count = self.open_by_client.get(client, 0)
        if count >= self.max_per_client:
            return False
        self.open_by_client[client] = count + 1
        return True

    def release(self, client: str) -> None:
        left = self.open_by_client.get(client, 1) - 1
        if left > 0:
            self.open_by_client[client] = left
        else:
            self.open_by_client.pop(client, None)


class Guard(asyncio.Protocol):
    """One connection: the ``inner`` aiohttp protocol plus the bounds of ``Limits``."""

    def __init__(self, limits: Limits, inner: asyncio.Protocol) -> None:
        self._limits = limits
        self._inner = inner
        self._transport: asyncio.Transport | None = None
        self._client = ""
        self._admitted = False
        self._last_byte = 0.0
        self._body: StreamReader | None = None
        self._timer: asyncio.TimerHandle | None = None

    # -- asyncio callbacks, forwarded ----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses but have the same methods.
        transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self._client = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        if not self._limits.admit(self._client):
            # aiohttp never sees this connection: no task, no buffers.
            transport.abort()
            return
        self._admitted = True
        self._transport = transport
        self._last_byte = asyncio.get_running_loop().time()
        self._limits.guards[transport] = self
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._admitted:
            return
        self._admitted = False
        self._limits.release(self._client)
        if self._transport is not None:
            self._limits.guards.pop(self._transport, None)
        self._stop_timer()
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._last_byte = asyncio.get_running_loop().time()
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    # -- the body clock ------------------------------------------------------------------------

    def reading(self, body: StreamReader | None) -> None:
        """The handler is reading ``body`` (None: the handler is done)."""
        self._body = body
        self._stop_timer()
        if body is not None:
            self._last_byte = asyncio.get_running_loop().time()
            self._arm(self._limits.body_timeout)

    def _arm(self, delay: float) -> None:
        self._timer = asyncio.get_running_loop().call_later(delay, self._check)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        self._timer = None
        body, transport = self._body, self._transport
        if body is None or transport is None or body.is_eof():
            return
        now = asyncio.get_running_loop().time()
        if not transport.is_reading():
            # We paused reading (our buffers are full): the client is not the one stalling.
            self._last_byte = now
        idle = now - self._last_byte
        if idle >= self._limits.body_timeout:
            transport.abort()
            return
        self._arm(self._limits.body_timeout - idle)


def watch_bodies(limits: Limits) -> Middleware:
    """Middleware that starts the body clock of the request's connection for its handler."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        guard = limits.guards.get(request.transport) if request.transport is not None else None
        if guard is None or not request.body_exists:
            return await handler(request)
        guard.reading(request.content)
        try:
            return await handler(request)
        finally:
            guard.reading(None)

    return middleware
