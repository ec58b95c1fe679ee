"""Streaming end to end: a 5 GiB layer pushed and pulled through a real server process
keeps the server's resident memory flat (issue 2, section 3).

The client generates the data on the fly (never 5 GiB in memory or on the client's disk),
pushes it in one streamed PATCH with chunked transfer encoding (as docker does), closes the
upload with PUT ?digest=, pulls it back on a raw socket and checks the digest. The server's
peak resident set (VmHWM, which covers the whole run) must stay under 200 MiB.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

from support.server import ServerProcess

GIB = 1024**3
MIB = 1024**2
SIZE = 5 * GIB
LIMIT_KIB = 200 * 1024


def _chunks() -> Iterator[bytes]:
    block = bytearray(os.urandom(MIB))
    for index in range(SIZE // MIB):
        block[:8] = index.to_bytes(8, "big")  # every MiB differs
        yield bytes(block)


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def _pull_digest(host: str, port: int, path: str) -> tuple[int, str]:
    digest = hashlib.sha256()
    with socket.create_connection((host, port), timeout=300) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(65536)
        raw, _, body = head.partition(b"\r\n\r\n")
        status = int(raw.split()[1])
        digest.update(body)
        got = len(body)
        buf = bytearray(4 * MIB)
        view = memoryview(buf)
        while True:
            n = sock.recv_into(view)
            if not n:
                break
            digest.update(view[:n])
            got += n
    assert status == 200
    return got, "sha256:" + digest.hexdigest()


def test_five_gib_layer_keeps_memory_flat(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server(env={"CARGOHOLD_AUTH_ENABLED": "false"})
    assert server.proc is not None
    expected = hashlib.sha256()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
    conn.request("POST", "/v2/stream/big/blobs/uploads/")
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 202
    location = resp.getheader("Location")

    def body() -> Iterator[bytes]:
        for chunk in _chunks():
            expected.update(chunk)
            yield chunk

    conn.request(
        "PATCH",
        location,
        body=body(),
        headers={"Content-Type": "application/octet-stream"},
        encode_chunked=True,
    )
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 202, resp.status
    assert resp.getheader("Range") == f"0-{SIZE - 1}"
    digest = "sha256:" + expected.hexdigest()
    conn.request("PUT", f"{resp.getheader('Location')}?digest={digest}", body=b"")
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 201
    conn.close()

    size, pulled = _pull_digest("127.0.0.1", server.port, f"/v2/stream/big/blobs/{digest}")
    assert (size, pulled) == (SIZE, digest)
    peak = _peak_rss_kib(server.proc.pid)
    assert peak < LIMIT_KIB, f"server peak RSS {peak // 1024} MiB over a 5 GiB push and pull"
    server.stop()
