"""Many clients at once: N pulling the same layer, then N pushing different layers.

Each client is a thread of the benchmark process with its own connection (the GIL is free
while it waits in recv/send). All start together at a barrier; the aggregate is the bytes
moved over the wall time from the barrier to the last client done, the latencies are each
client's transfer (pull: GET to last byte; push: POST + PUT to 201).

Push layers differ only in their last 32 bytes (a per-round nonce and the client's index),
so every push stores a new blob and the digests cost one hash of the shared part.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import statistics
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

SUFFIX = 32


class Layers:
    """The shared random part of every layer, hashed once."""

    def __init__(self, size: int) -> None:
        self.base = os.urandom(size - SUFFIX)
        self.hasher = hashlib.sha256(self.base)

    def make(self, nonce: bytes, index: int) -> tuple[bytes, str]:
        """The suffix of layer ``index`` of a round, and the layer's digest."""
        suffix = (nonce + index.to_bytes(8, "big")).ljust(SUFFIX, b"\0")
        hasher = self.hasher.copy()
        hasher.update(suffix)
        return suffix, "sha256:" + hasher.hexdigest()


def _run(clients: int, work: Callable[[int], None]) -> tuple[float, list[float]]:
    """Run ``work(i)`` on ``clients`` threads started together; (wall s, each one's s)."""
    barrier = threading.Barrier(clients + 1)
    times: list[float] = [0.0] * clients
    errors: list[BaseException] = []

    def client(i: int) -> None:
        barrier.wait()
        t0 = time.perf_counter()
        try:
            work(i)
        except BaseException as exc:
            errors.append(exc)
        times[i] = time.perf_counter() - t0

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        raise SystemExit(f"{len(errors)} of {clients} clients failed: {errors[0]!r}")
    return wall, times


def pull_round(get: Callable[[], int], clients: int, size: int) -> tuple[float, list[float]]:
    def work(_: int) -> None:
        n = get()
        if n != size:
            raise RuntimeError(f"pulled {n} bytes, wanted {size}")

    return _run(clients, work)


def push_round(
    base_url: str,
    repo: str,
    headers: dict[str, str],
    layers: Layers,
    clients: int,
) -> tuple[float, list[float]]:
    nonce = os.urandom(16)
    made = [layers.make(nonce, i) for i in range(clients)]
    parts = urllib.parse.urlsplit(base_url)
    host, port = parts.netloc.rsplit(":", 1)
    size = len(layers.base) + SUFFIX

    def work(i: int) -> None:
        suffix, digest = made[i]
        conn = http.client.HTTPConnection(host, int(port), timeout=600, blocksize=1 << 20)
        try:
            conn.request("POST", f"/v2/{repo}/blobs/uploads/", body=b"",
                         headers={**headers, "Content-Length": "0"})  # fmt: skip
            resp = conn.getresponse()
            resp.read()
            if resp.status != 202:
                raise RuntimeError(f"POST upload -> {resp.status}")
            loc = urllib.parse.urljoin(base_url + "/", resp.headers["Location"])
            loc_parts = urllib.parse.urlsplit(loc)
            query = [*urllib.parse.parse_qsl(loc_parts.query), ("digest", digest)]
            path = loc_parts.path + "?" + urllib.parse.urlencode(query)
            body: list[bytes | memoryview] = [memoryview(layers.base), suffix]
            conn.request("PUT", path, body=body, headers={
                **headers, "Content-Type": "application/octet-stream",
                "Content-Length": str(size)})  # fmt: skip
            resp = conn.getresponse()
            resp.read()
            if resp.status != 201:
                raise RuntimeError(f"PUT upload -> {resp.status}")
        finally:
            conn.close()

    return _run(clients, work)


def summarise(size: int, clients: int, rounds: list[tuple[float, list[float]]]) -> dict[str, Any]:
    """Aggregate MB/s (median over rounds) and p50/p99 seconds over every transfer."""
    walls = [w for w, _ in rounds]
    each = sorted(t for _, times in rounds for t in times)

    def pct(p: float) -> float:
        return each[min(len(each) - 1, max(0, round(p * len(each) + 0.5) - 1))]

    return {
        "mb_s": size * clients / 1e6 / statistics.median(walls),
        "walls": walls,
        "p50_s": pct(0.50),
        "p99_s": pct(0.99),
    }
