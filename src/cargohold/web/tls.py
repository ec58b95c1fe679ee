"""Built-in TLS: the server's SSL context from ``tls_cert`` / ``tls_key``, reloaded on SIGHUP.

``gh``, docker and browsers want HTTPS outside loopback. A renewed certificate (certbot, a
cluster's cert manager) is picked up without a restart: on SIGHUP the same context loads the
files again, which applies to every handshake from then on; connections already open keep the
certificate they were made with. A reload that fails (a half-written file) keeps the old
certificate and logs why.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl

from cargohold.errors import ConfigError
from cargohold.settings import Settings

log = logging.getLogger("cargohold.tls")


def server_context(settings: Settings) -> ssl.SSLContext | None:
    """The SSL context to serve with, or None for plain HTTP (neither file set)."""
    if not settings.tls_cert and not settings.tls_key:
        return None
    if not settings.tls_cert or not settings.tls_key:
        raise ConfigError("setting 'tls_cert' and 'tls_key': give both, or neither")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"setting 'tls_cert'/'tls_key': cannot load them: {exc}") from exc
    return context


def reload(context: ssl.SSLContext, settings: Settings) -> bool:
    """Load the certificate and key again into ``context``; False (and logged) on failure."""
    try:
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
    except (OSError, ssl.SSLError) as exc:
        log.error("TLS reload failed, keeping the previous certificate: %s", exc)
        return False
    log.info("TLS certificate reloaded from %s", settings.tls_cert)
    return True


def reload_on_sighup(context: ssl.SSLContext | None, settings: Settings) -> None:
    """Install the SIGHUP handler on the running loop (no-op without TLS)."""
    if context is None:
        return
    asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reload, context, settings)
