"""Streaming on S3: a layer larger than the server's memory budget, pushed in one chunked PATCH
and pulled back, keeps a ``cargohold serve`` on S3 flat in memory (its peak resident set grows
by less than ``GROWTH_KIB`` over what it held before the push, whatever the size), and the
digest survives the round trip. Measured as growth, not as an absolute figure, so that the
modules the server loads (UI, REST API, ...) do not move the bar."""

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
GROWTH_KIB = 128 * 1024  # well under the 320 MiB layer: a few S3 parts and batches


_BLOCK = os.urandom(MIB)


def _chunks() -> Iterator[bytes]:
    """The same bytes on every call (the push and the expected digest iterate separately)."""
    block = bytearray(_BLOCK)
    for index in range(SIZE // MIB):
        block[:8] = index.to_bytes(8, "big")  # every MiB differs
        yield bytes(block)


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field}")


def _peak_rss_kib(pid: int) -> int:
    return _status_kib(pid, "VmHWM")


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
        assert server.proc is not None
        # What the server holds before the body: its high-water mark so far, warmed up.
        before = _status_kib(server.proc.pid, "VmHWM")
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
    grew = peak - before
    assert grew < GROWTH_KIB, (
        f"server peak RSS grew {grew // 1024} MiB (to {peak // 1024}) for a {SIZE // MIB} MiB layer"
    )
