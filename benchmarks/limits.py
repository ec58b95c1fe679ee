"""The machine's own limits for blob transfers, measured in the same run as the registries.

- pull: bare_server.py in its own process serving the blob by ``os.sendfile`` and, in
  others, by ``readinto`` a buffer + ``sendall``, with buffers of 1, 2 and 4 MiB (``METHODS``);
  each pulled whole and by ranges with the benchmark's own client. The best is the pull limit
  (per figure). The buffer size matters: here 2 and 4 MiB sent 15-30% faster than 1 MiB, so a
  limit measured with 1 MiB alone would not be the machine's.
- push: the same bytes written to the same disk with sha256 in 1 MiB blocks and an fsync at
  the end, in this process, no network (what a registry must do at least), once through the
  page cache and once with ``O_DIRECT``; the better is the push limit. Each run writes a new
  file kept until the runs are done, as a registry keeps its blobs. Beside it, for
  reference, bare_server.py receiving a PUT over loopback and doing the same.
"""

from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MIB = 1 << 20
BLOCK = 1 * MIB
BARE = Path(__file__).with_name("bare_server.py")
# Pull methods, by name: (bare_server.py --method, --buffer-mib). "readsend" is the 1 MiB one.
METHODS = {
    "sendfile": ("sendfile", 1),
    "readsend": ("readsend", 1),
    "readsend-2m": ("readsend", 2),
    "readsend-4m": ("readsend", 4),
}


@dataclass
class Bare:
    """A bare server process (its own session, so it can be killed with its threads)."""

    name: str
    url: str
    proc: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def start_bare(method: str, blob: Path, work: Path, port: int) -> Bare:
    """Start bare_server.py serving ``blob`` the way ``method`` (a key of ``METHODS``) says."""
    upload_dir = work / "bare-uploads"
    upload_dir.mkdir(exist_ok=True)
    how, buffer_mib = METHODS[method]
    proc = subprocess.Popen(
        [sys.executable, str(BARE), "--port", str(port), "--file", str(blob),
         "--method", how, "--buffer-mib", str(buffer_mib), "--upload-dir", str(upload_dir)],
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"bare server ({method}) exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return Bare(f"bare {method}", f"http://127.0.0.1:{port}", proc)
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"bare server ({method}) did not listen within 30s")


def disk_push(blob: Path, work: Path, repeat: int, direct: bool) -> list[float]:
    """Seconds, per run, to read the blob (page cache), sha256 it and write it to a new file
    in ``work`` with an fsync at the end: through the page cache, or with ``O_DIRECT`` from
    one aligned buffer when ``direct``.

    Every run's file is kept until all runs are done, as a registry keeps what it stores:
    rewriting a file just deleted reuses page-cache pages still hot, which new data does not
    get (on this project's VMs that alone made buffered writes look 5 to 10 times cheaper).
    """
    buffer = mmap.mmap(-1, BLOCK)  # page-aligned, as O_DIRECT needs
    view = memoryview(buffer)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | (os.O_DIRECT if direct else 0)
    targets, times = [], []
    try:
        for run in range(repeat):
            target = work / f"disk-push-{'direct' if direct else 'buffered'}-{run}.tmp"
            targets.append(target)
            src = os.open(blob, os.O_RDONLY)
            dst = os.open(target, flags, 0o600)
            try:
                t0 = time.perf_counter()
                hasher = hashlib.sha256()
                while n := os.readv(src, [buffer]):
                    hasher.update(view[:n])
                    if direct and n % 4096:  # the tail: O_DIRECT wants whole blocks
                        fcntl.fcntl(dst, fcntl.F_SETFL, os.O_WRONLY)
                    chunk = view[:n]
                    while chunk:
                        chunk = chunk[os.write(dst, chunk) :]
                os.fsync(dst)
                hasher.hexdigest()
                times.append(time.perf_counter() - t0)
            finally:
                os.close(src)
                os.close(dst)
    finally:
        for target in targets:
            target.unlink(missing_ok=True)
    return times


def measure(
    blob_path: Path,
    size: int,
    work: Path,
    repeat: int,
    transfers: dict[str, Callable[[str], float]],
    free_port: Callable[[], int],
    cpu: Callable[[int], float],
) -> dict[str, Any]:
    """The limits, each the median of ``repeat`` runs, as MB/s (and server CPU ms per GiB).

    ``transfers`` maps a figure (``pull_whole``, ``pull_ranges``, ``push_monolithic``) to a
    function that runs it against a base URL and returns the seconds it took.
    """
    mb, gib = size / 1e6, size / (1 << 30)
    out: dict[str, Any] = {"methods": {}}
    for method in METHODS:
        bare = start_bare(method, blob_path, work, free_port())
        figures: dict[str, Any] = {}
        try:
            for label, run in transfers.items():
                if label.startswith("push") and method != "readsend":
                    continue  # one receiving server is enough; the send method plays no part
                times, cpus, client = [], [], []
                for _ in range(repeat):
                    c0, t0 = cpu(bare.proc.pid), time.thread_time()
                    times.append(run(bare.url))
                    client.append((time.thread_time() - t0) * 1000 / gib)
                    cpus.append((cpu(bare.proc.pid) - c0) * 1000 / gib)
                figures[label] = {
                    "mb_s": mb / statistics.median(times),
                    "seconds": times,
                    "cpu_ms_per_gib": statistics.median(cpus),
                    "client_cpu_ms_per_gib": statistics.median(client),
                }
                print(f"  {bare.name:<17} {label:<16} {figures[label]['mb_s']:9.1f} MB/s   "
                      f"runs {' '.join(f'{t:.2f}s' for t in times)}", flush=True)  # fmt: skip
        finally:
            bare.stop()
        out["methods"][method] = figures
    for kind in ("buffered", "direct"):
        times = disk_push(blob_path, work, repeat, direct=kind == "direct")
        out[f"disk_push_{kind}"] = {"mb_s": mb / statistics.median(times), "seconds": times}
        print(f"  {'disk ' + kind:<17} {'write+sha256':<16} "
              f"{out[f'disk_push_{kind}']['mb_s']:9.1f} MB/s   "
              f"runs {' '.join(f'{t:.2f}s' for t in times)}", flush=True)  # fmt: skip
    best = max(("buffered", "direct"), key=lambda k: float(out[f"disk_push_{k}"]["mb_s"]))
    out["disk_push"] = {**out[f"disk_push_{best}"], "method": best}
    methods = out["methods"]
    for label in ("pull_whole", "pull_ranges"):
        best = max(methods, key=lambda m: float(methods[m][label]["mb_s"]))
        out[label] = {**methods[best][label], "method": best}
    out["push_net"] = methods["readsend"]["push_monolithic"]
    out["push_monolithic"] = out["push_chunked"] = out["disk_push"]
    return out
