"""Running the server: one or several worker processes sharing the port (SO_REUSEPORT).

Workers hold no state that matters (uploads, grants, tokens live in the DB and the store), so
any worker, or any replica behind a load balancer, can serve any request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from datetime import timedelta

from aiohttp import web

from cargohold.services import Services, build
from cargohold.settings import Settings
from cargohold.web import tls
from cargohold.web.app import create_app
from cargohold.web.connections import Guard, Limits, watch_bodies

log = logging.getLogger("cargohold")
READ_BUFSIZE = 1024 * 1024


async def _serve(
    settings: Settings, services: Services, reuse_port: bool, announce: str | None
) -> None:
    app = create_app(services)
    limits = Limits(settings.body_timeout, settings.max_connections_per_client)
    app.middlewares.insert(0, watch_bodies(limits))
    # The body reader's buffer: 1 MiB (aiohttp pauses the socket at twice that). 4 MiB pushed
    # no faster, and let each of 32 concurrent pushes hold up to 8 MiB more (peak RSS 858 MiB
    # in one run). The keep-alive timer is also the header timeout (cargohold.web.connections).
    runner = web.AppRunner(
        app,
        access_log=None,
        handle_signals=False,
        read_bufsize=READ_BUFSIZE,
        keepalive_timeout=float(settings.header_timeout),
    )
    await runner.setup()
    host, port = settings.host_port
    ssl_context = tls.server_context(settings)
    loop = asyncio.get_running_loop()
    make_protocol = runner.server
    assert make_protocol is not None
    listener = await loop.create_server(
        lambda: Guard(limits, make_protocol()),
        host,
        port,
        reuse_port=reuse_port or None,
        ssl=ssl_context,
        backlog=1024,
    )
    tls.reload_on_sighup(ssl_context, settings)
    if announce:
        print(announce, flush=True)
    sweeper = asyncio.create_task(_sweep_uploads(services))
    every = settings.gc_interval
    collector = asyncio.create_task(services.gc.run_periodically(every)) if every > 0 else None
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        sweeper.cancel()
        listener.close()
        if collector is not None:
            collector.cancel()
        await runner.cleanup()
        services.close()


async def _sweep_uploads(services: Services) -> None:
    """Remove abandoned uploads now and then (every quarter of the staleness age, 1-10 min)."""
    older_than = timedelta(seconds=services.settings.upload_stale_after)
    every = min(600.0, max(60.0, services.settings.upload_stale_after / 4))
    while True:
        await asyncio.sleep(every)
        try:
            swept = await services.uploads.sweep(older_than)
        except Exception:  # the sweeper must never take the server down
            log.exception("sweeping abandoned uploads failed")
            continue
        if swept.sessions or swept.orphans:
            log.info("swept %d abandoned uploads, %d orphans", swept.sessions, swept.orphans)


def _run_worker(settings: Settings, reuse_port: bool, announce: str | None) -> None:
    if settings.event_loop == "uvloop":
        import uvloop

        uvloop.install()
    services = build(settings, run_migrations=False)
    asyncio.run(_serve(settings, services, reuse_port, announce))


def serve(settings: Settings, announce: str | None = None) -> None:
    """Serve until SIGTERM/SIGINT; print ``announce`` once listening.

    The caller has migrated the database already.
    """
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if settings.workers == 1:
        _run_worker(settings, reuse_port=False, announce=announce)
        return
    children: list[int] = []
    for index in range(settings.workers):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _run_worker(settings, reuse_port=True, announce=announce if index == 0 else None)
            except BaseException:
                log.exception("worker failed")
                code = 1
            os._exit(code)
        children.append(pid)

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGHUP, forward)  # workers reload their TLS certificate
    status = 0
    for child in children:
        _, code = os.waitpid(child, 0)
        status = status or (1 if code else 0)
    sys.exit(status)
