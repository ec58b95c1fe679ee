"""Streaming on S3: a layer larger than the server's memory limit, pushed in one chunked PATCH
and pulled back, keeps a ``cargohold serve`` on S3 flat in memory (peak resident set under
200 MiB whatever the size), and the digest survives the round trip."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Iterator
from http.client import HTTPConnection
from pathlib import Path

from support.s3 import s3_options
from support.server import ServerProcess

MIB = 1024 * 1024
SIZE = 320 * MIB
LIMIT_KIB = 200 * 1024


_BLOCK = os.urandom(MIB)


def _chunks() -> Iterator[bytes]:
    """The same bytes on every call (the push and the expected digest iterate separately)."""
    block = bytearray(_BLOCK)
    for index in range(SIZE // MIB):
        block[:8] = index.to_bytes(8, "big")  # every MiB differs
        yield bytes(block)


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_a_large_layer_streams_through_s3_in_flat_memory(
    start_server: Callable[..., ServerProcess],
) -> None:
    options = s3_options()
    server = start_server(
        env={
            "CARGOHOLD_AUTH_ENABLED": "false",
            "CARGOHOLD_STORAGE": "s3",
            "CARGOHOLD_S3_ENDPOINT": str(options["endpoint"]),
            "CARGOHOLD_S3_BUCKET": str(options["bucket"]),
            "CARGOHOLD_S3_PREFIX": f"stream-{uuid.uuid4().hex[:12]}",
            "CARGOHOLD_S3_ACCESS_KEY_ID": str(options["access_key_id"]),
            "CARGOHOLD_S3_SECRET_ACCESS_KEY": str(options["secret_access_key"]),
        }
    )
    expected = hashlib.sha256()
    for chunk in _chunks():
        expected.update(chunk)
    digest = f"sha256:{expected.hexdigest()}"
    conn = HTTPConnection(server.host, timeout=600)
    try:
        conn.request("POST", "/v2/acme/big/blobs/uploads/")
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 202
        location = resp.headers["Location"]
        conn.request("PATCH", location, body=_chunks(), encode_chunked=True)
        resp = conn.getresponse()
        assert resp.status == 202, resp.read()
        resp.read()
        conn.request("PUT", f"{location}?digest={digest}")
        resp = conn.getresponse()
        assert resp.status == 201, resp.read()
        resp.read()
        conn.request("GET", f"/v2/acme/big/blobs/{digest}")
        resp = conn.getresponse()
        assert resp.status == 200
        pulled = hashlib.sha256()
        received = 0
        while piece := resp.read(4 * MIB):
            pulled.update(piece)
            received += len(piece)
    finally:
        conn.close()
    assert (received, f"sha256:{pulled.hexdigest()}") == (SIZE, digest)
    assert server.proc is not None
    peak = _peak_rss_kib(server.proc.pid)
    assert peak < LIMIT_KIB, f"server peak RSS {peak // 1024} MiB for a {SIZE // MIB} MiB layer"
