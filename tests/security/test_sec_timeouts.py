"""Security finding 9: slow clients held connections open for as long as they liked.

Ten half-sent header blocks and ten half-sent PATCH bodies were still open after 69 s. Now a
header block must be complete within ``header_timeout``, a body must not stall for
``body_timeout``, and one address may hold only ``max_connections_per_client`` connections.

Each test talks raw TCP to a real ``cargohold serve`` with one-second timeouts and waits, with a
generous bound, for the server to close the connection: no timing is asserted beyond "closed
well within the bound" (before the fix, nothing closed them at all).
"""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.server import ServerProcess

BOUND = 30.0  # seconds; the server's own timeouts are 1 s


def _start(tmp_path: Path, header_timeout: int, event_loop: str = "asyncio") -> ServerProcess:
    env = {
        "CARGOHOLD_EVENT_LOOP": event_loop,
        "CARGOHOLD_AUTH_ENABLED": "false",
        "CARGOHOLD_HEADER_TIMEOUT": str(header_timeout),
        "CARGOHOLD_BODY_TIMEOUT": "1",
        "CARGOHOLD_MAX_CONNECTIONS_PER_CLIENT": "4",
    }
    return ServerProcess().start(tmp_path / "data", env=env)


@pytest.fixture(params=["asyncio", "uvloop"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    with _start(tmp_path, header_timeout=1, event_loop=request.param) as running:
        yield running


@pytest.fixture
def patient_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """Header timeout far beyond ``BOUND``: only the connection cap can close a connection."""
    with _start(tmp_path, header_timeout=3600) as running:
        yield running


def _connect(server: ServerProcess) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=BOUND)
    return sock


def _closed_by_server(sock: socket.socket) -> bool:
    """Read until the server closes; True when it did within ``BOUND`` (only its response and
    then end-of-file, or a reset), False when the read timed out with the connection open."""
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def _request(server: ServerProcess) -> int:
    with urllib.request.urlopen(f"{server.url}/v2/", timeout=BOUND) as resp:
        status: int = resp.status
        return status


def test_half_a_header_block_is_closed(server: ServerProcess) -> None:
    socks = [_connect(server) for _ in range(3)]
    for sock in socks:
        sock.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    try:
        assert all(_closed_by_server(sock) for sock in socks)
    finally:
        for sock in socks:
            sock.close()
    assert _request(server) == 200


def test_a_connection_that_sends_nothing_is_closed(server: ServerProcess) -> None:
    with _connect(server) as sock:
        assert _closed_by_server(sock)


def test_half_a_patch_body_is_closed(server: ServerProcess) -> None:
    with _connect(server) as sock:
        sock.sendall(
            b"POST /v2/acme/app/blobs/uploads/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        assert head.startswith(b"HTTP/1.1 202"), head
        location = next(
            line.split(b":", 1)[1].strip()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"location:")
        )
    with _connect(server) as sock:
        sock.sendall(
            b"PATCH " + location + b" HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n"
            + b"x"
            * 5000
        )
        assert _closed_by_server(sock)
    assert _request(server) == 200


def test_connections_per_address_are_capped(patient_server: ServerProcess) -> None:
    # Four connections that are still sending their headers are held; a fifth from the same
    # address is closed at once, before it sends anything; the four are then still served.
    held = [_connect(patient_server) for _ in range(4)]
    try:
        for sock in held:
            sock.sendall(b"GET /v2/ HTTP/1.1\r\n")
        with _connect(patient_server) as extra:
            assert _closed_by_server(extra)
        for sock in held:
            sock.sendall(b"Host: x\r\nConnection: close\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    finally:
        for sock in held:
            sock.close()
    assert _request(patient_server) == 200
