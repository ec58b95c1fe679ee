"""Benchmark cargohold against the CNCF distribution registry and against the machine's limits.

    .venv/bin/python benchmarks/bench_registry.py [--quick] [--size-mib 1024] [--auth on|off|both]
        [--only distribution|cargohold] [--json results.json] [--duration 10] [--repeat 3]
        [--clients 32] [--layer-mib 64] [--workers 1,2] [--no-limits]

Run on demand, never as a test. Each server runs alone on loopback (2 cores: a server measured
while another works would share the machine), with a fresh data directory, against the same
data: one random blob of --size-mib MiB generated once on disk and streamed from it (never held
in memory), and repository ``bench/app`` with tags t0..t99, each its own small manifest.

First the machine's limits (limits.py): bare_server.py in its own process sends the blob by
``os.sendfile`` and, in others, by read + send with 1, 2 and 4 MiB buffers; the best is the
pull limit. Writing the same bytes with sha256 and an fsync to the same disk is the push
limit (a bare server receiving a PUT over loopback is printed beside it).

Then per server (median of --repeat runs, for the blob transfers and the loads alike):

- blob push, monolithic: POST then one PUT with the whole body; chunked: PATCH of 10 MiB
  chunks then an empty PUT; each run pushes new content (``Variants``: a registry discards a
  second upload of a blob it holds, which flattered the next buffered write)
- blob pull, whole; and with 64 MiB Range requests covering the blob; the first whole pull
  after the pushes is a figure of its own (cold where the push bypassed the page cache), the
  median is of the pulls after it
- server CPU per GiB for push and pull, and the client's (this process) for pull: steadier
  than MB/s when other work shares the machine, and they show which side limits a transfer
- manifest GET and tag list requests/s with 50 concurrent connections for --duration s (wrk
  when installed, else aiohttp + uvloop), with the client's CPU reported beside it
- peak RSS of each server (VmHWM summed over the process and its children, sampled)
- concurrency (concurrency.py): --clients clients pulling one --layer-mib layer at once, then
  as many pushing different layers; aggregate MB/s and p50/p99 seconds per transfer, for
  distribution, cargohold with each --workers value, and the better bare server (the limit)

cargohold runs with ``CARGOHOLD_AUTH_ENABLED=false`` (auth off) and/or with a site-admin
user and a token (auth on, the docker token flow: Basic -> Bearer). distribution (Debian's
``docker-registry``) runs without authentication either way. In the table "/limit" is a
figure over the machine's limit and "/dist" cargohold over distribution: above 1 is better
for cargohold on throughput, worse on CPU and RSS. A default run takes about 10 minutes on
2 cores; --quick (256 MiB blob, 16 MiB layers, 3 s loads) about 3.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import concurrency
import limits

MIB = 1 << 20
REPO = "bench/app"
TAGS = 100
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
IO_BLOCK = 1 * MIB
TOKEN_REFRESH_S = 120  # cargohold tokens live ~5 minutes


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    """Wait for GET /v2/ to answer 200 or 401; on failure kill the server and exit."""
    try:
        _wait_ready(url, proc, log, timeout)
    except BaseException:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        raise


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            status, _, _ = request("GET", url + "/v2/")
            if status in (200, 401):
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer GET /v2/ within {timeout}s:\n{log.read_text()[-3000:]}")


def descendants(pid: int) -> list[int]:
    """pid and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pids: list[int]) -> float:
    """utime+stime (including reaped children) of the given processes."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[11..14] = utime stime cutime cstime (stat fields 14-17)
        total += sum(int(x) for x in fields[11:15]) / tick
    return total


class RssSampler:
    """Samples VmHWM of a process tree; peak = sum over processes of each one's maximum."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def sample(self) -> None:
        for pid in descendants(self.pid):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            m = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
            if m:
                self.peaks[pid] = max(self.peaks.get(pid, 0), int(m.group(1)) * 1024)

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self.sample()

    def stop(self) -> int:
        self.sample()
        self._stop.set()
        self._thread.join()
        return sum(self.peaks.values())


class Endpoint(Protocol):
    """What the transfer functions need of a server: a registry, or a bare limit server."""

    name: str
    url: str
    auth: Auth


@dataclass
class BareEndpoint:
    name: str
    url: str
    auth: Auth


@dataclass
class Server:
    name: str
    url: str
    proc: subprocess.Popen[bytes]
    log: Path
    auth: Auth
    sampler: RssSampler = field(init=False)

    def __post_init__(self) -> None:
        self.sampler = RssSampler(self.proc.pid)

    def cpu(self) -> float:
        return cpu_seconds(descendants(self.proc.pid))

    def stop(self) -> int:
        peak = self.sampler.stop()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return peak


def start_distribution(work: Path) -> Server:
    port = free_port()
    root = work / "distribution"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: error\n  accesslog:\n    disabled: true\n"
        "storage:\n"
        f"  filesystem:\n    rootdirectory: {root / 'data'}\n"
        "  delete:\n    enabled: true\n"
        "  cache:\n    blobdescriptor: inmemory\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: bench-not-secret\n"
    )
    log = root / "server.log"
    binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [binary, "serve", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, proc, log)
    return Server("distribution", url, proc, log, Auth(url, None))


def cargohold_cmd() -> list[str]:
    script = Path(sys.executable).with_name("cargohold")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cargohold"]


def start_cargohold(work: Path, auth_on: bool, workers: int = 1) -> Server:
    name = f"cargohold[auth={'on' if auth_on else 'off'}]"
    if workers != 1:
        name = name[:-1] + f",workers={workers}]"
    data = work / f"cargohold-{'auth' if auth_on else 'noauth'}-w{workers}"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    env = dict(os.environ, CARGOHOLD_AUTH_ENABLED="true" if auth_on else "false")
    port = free_port()
    log = data / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                *cargohold_cmd(),
                "serve",
                "--data-dir",
                str(data),
                "--listen",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, proc, log)
    basic = None
    if auth_on:

        def cli(*args: str) -> str:
            done = subprocess.run(
                [*cargohold_cmd(), *args, "--data-dir", str(data)],
                capture_output=True,
                text=True,
                env=env,
                stdin=subprocess.DEVNULL,
            )
            if done.returncode != 0:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise SystemExit(f"cargohold {' '.join(args)} failed:\n{done.stderr}")
            return done.stdout

        cli("user", "create", "bench", "--site-admin")
        secret = cli(
            "token", "create", "--user", "bench",
            "--scopes", "read:packages,write:packages,delete:packages",
        ).strip()  # fmt: skip
        basic = "Basic " + base64.b64encode(f"bench:{secret}".encode()).decode()
    return Server(name, url, proc, log, Auth(url, basic))


# --------------------------------------------------------------------------- HTTP


_conns: dict[str, http.client.HTTPConnection] = {}


def _conn(netloc: str) -> http.client.HTTPConnection:
    conn = _conns.get(netloc)
    if conn is None:
        host, port = netloc.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=300, blocksize=IO_BLOCK)
        _conns[netloc] = conn
    return conn


def request(
    method: str,
    url: str,
    headers: dict[str, str] | None = None,
    body: Any = None,
    sink: bool = False,
) -> tuple[int, dict[str, str], bytes | int]:
    """One request on a kept-alive connection. With sink, the body is counted, not kept."""
    parts = urllib.parse.urlsplit(url)
    path = parts.path + ("?" + parts.query if parts.query else "")
    for attempt in (0, 1):
        conn = _conn(parts.netloc)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            break
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            # A kept-alive connection the server closed: retry once on a new one (only
            # when the body can be sent again).
            conn.close()
            _conns.pop(parts.netloc, None)
            if attempt or (body is not None and not isinstance(body, bytes)):
                raise
        except BaseException:
            conn.close()
            _conns.pop(parts.netloc, None)
            raise
    hdrs = {k.lower(): v for k, v in resp.getheaders()}
    data: bytes | int
    if sink:
        buf = bytearray(IO_BLOCK)
        view = memoryview(buf)
        n = 0
        while True:
            got = resp.readinto(view)
            if not got:
                break
            n += got
        data = n
    else:
        data = resp.read()
    if hdrs.get("connection", "").lower() == "close":
        _conn(parts.netloc).close()
        _conns.pop(parts.netloc, None)
    return resp.status, hdrs, data


class Auth:
    """Adds the Authorization header: none, or the docker token flow with Basic credentials."""

    def __init__(self, base: str, basic: str | None) -> None:
        self.base = base
        self.basic = basic
        self.token: str | None = None
        self.obtained = 0.0

    def refresh(self) -> None:
        status, hdrs, _ = request("GET", self.base + "/v2/")
        challenge = hdrs.get("www-authenticate", "")
        if status != 401 or not challenge.lower().startswith("bearer"):
            raise SystemExit(f"expected a Bearer challenge from /v2/, got {status} {challenge!r}")
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        query = urllib.parse.urlencode(
            {"service": params.get("service", ""), "scope": f"repository:{REPO}:pull,push"}
        )
        realm = urllib.parse.urljoin(self.base + "/", params["realm"])
        assert self.basic is not None
        status, _, body = request("GET", f"{realm}?{query}", {"Authorization": self.basic})
        if status != 200:
            raise SystemExit(f"token endpoint answered {status}: {body!r}")
        doc = json.loads(body)  # type: ignore[arg-type]
        self.token = doc.get("token") or doc["access_token"]
        self.obtained = time.monotonic()

    def headers(self) -> dict[str, str]:
        if self.basic is None:
            return {}
        if self.token is None or time.monotonic() - self.obtained > TOKEN_REFRESH_S:
            self.refresh()
        return {"Authorization": f"Bearer {self.token}"}


def call(
    srv: Endpoint,
    method: str,
    url: str,
    expect: tuple[int, ...],
    headers: dict[str, str] | None = None,
    body: Any = None,
    sink: bool = False,
) -> tuple[int, dict[str, str], bytes | int]:
    if not url.startswith("http"):
        url = urllib.parse.urljoin(srv.url + "/", url)
    status, hdrs, data = request(method, url, {**srv.auth.headers(), **(headers or {})}, body, sink)
    if status not in expect:
        shown = data if isinstance(data, bytes) else f"<{data} bytes>"
        raise SystemExit(f"{srv.name}: {method} {url} -> {status} (wanted {expect}): {shown!r}")
    return status, hdrs, data


def location(srv: Endpoint, hdrs: dict[str, str]) -> str:
    return urllib.parse.urljoin(srv.url + "/", hdrs["location"])


def with_digest(url: str, digest: str) -> str:
    return url + ("&" if "?" in url else "?") + urllib.parse.urlencode({"digest": digest})


# --------------------------------------------------------------------------- operations


@dataclass(frozen=True)
class Blob:
    path: Path
    size: int
    digest: str


def make_blob(path: Path, size: int) -> Blob:
    """Random bytes written once; reused (digest recomputed) when already the right size."""
    h = hashlib.sha256()
    if path.exists() and path.stat().st_size == size:
        with path.open("rb") as f:
            while chunk := f.read(8 * MIB):
                h.update(chunk)
    else:
        with path.open("wb") as f:
            left = size
            while left:
                chunk = os.urandom(min(8 * MIB, left))
                h.update(chunk)
                f.write(chunk)
                left -= len(chunk)
    return Blob(path, size, "sha256:" + h.hexdigest())


HEAD_BYTES = 16


class Variants:
    """New content for every timed push: the blob file with its first 16 bytes changed.

    A registry that holds a blob already discards a second upload of it, and the page-cache
    pages of the discarded file are free and recently touched when the next push writes: on
    these VMs writing into such pages costs a tenth of writing into pages the guest has not
    touched lately. Pushing the same bytes again flattered every buffered writer (distribution;
    cargohold with ``storage_direct_writes = false``); a registry's real pushes are new layers.
    Only the first page of the file changes, so the client reads it from the page cache as
    before. ``restore`` puts the original bytes back (the pulls use them).
    """

    def __init__(self, blob: Blob) -> None:
        self.blob = blob
        with blob.path.open("rb") as f:
            self.head = f.read(HEAD_BYTES)
        self.made = 0

    def next(self) -> Blob:
        self.made += 1
        head = f"variant {os.getpid()} {self.made}".encode().ljust(HEAD_BYTES)[:HEAD_BYTES]
        return self._with(head)

    def restore(self) -> Blob:
        return self._with(self.head)

    def _with(self, head: bytes) -> Blob:
        with self.blob.path.open("r+b") as f:
            f.write(head)
        h = hashlib.sha256()
        with self.blob.path.open("rb") as f:
            while chunk := f.read(8 * MIB):
                h.update(chunk)
        return Blob(self.blob.path, self.blob.size, "sha256:" + h.hexdigest())


def push_monolithic(srv: Endpoint, blob: Blob) -> float:
    t0 = time.perf_counter()
    _, hdrs, _ = call(srv, "POST", f"/v2/{REPO}/blobs/uploads/", (202,), body=b"")
    with blob.path.open("rb") as f:
        call(
            srv,
            "PUT",
            with_digest(location(srv, hdrs), blob.digest),
            (201,),
            {"Content-Type": "application/octet-stream", "Content-Length": str(blob.size)},
            f,
        )
    return time.perf_counter() - t0


def push_chunked(srv: Endpoint, blob: Blob, chunk: int) -> float:
    t0 = time.perf_counter()
    _, hdrs, _ = call(srv, "POST", f"/v2/{REPO}/blobs/uploads/", (202,), body=b"")
    url = location(srv, hdrs)
    offset = 0
    with blob.path.open("rb") as f:
        while offset < blob.size:
            data = f.read(chunk)
            _, hdrs, _ = call(
                srv,
                "PATCH",
                url,
                (202,),
                {
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{offset}-{offset + len(data) - 1}",
                    "Content-Length": str(len(data)),
                },
                data,
            )
            url = location(srv, hdrs)
            offset += len(data)
    call(srv, "PUT", with_digest(url, blob.digest), (201,), {"Content-Length": "0"}, b"")
    return time.perf_counter() - t0


def _get_blob(srv: Endpoint, blob: Blob, headers: dict[str, str], expect: int) -> int:
    url = urllib.parse.urljoin(srv.url + "/", f"/v2/{REPO}/blobs/{blob.digest}")
    status, hdrs, n = sink_get(url, {**srv.auth.headers(), **headers})
    if status == 307:  # a redirect to the storage backend: follow it, without our auth
        status, _, n = sink_get(location(srv, hdrs), headers)
    if status != expect:
        raise SystemExit(f"{srv.name}: GET {url} -> {status} (wanted {expect})")
    return n


def sink_get(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], int]:
    """GET on a raw socket, counting the body with recv_into on an 8 MiB buffer.

    The client must not be what is measured: http.client's buffered reader tops out near
    2.4 GB/s here and curl (16 KiB reads) near 2.8 GB/s, below what a sendfile server sends.
    """
    parts = urllib.parse.urlsplit(url)
    path = parts.path + ("?" + parts.query if parts.query else "")
    host, port = parts.netloc.rsplit(":", 1)
    lines = [f"GET {path} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection((host, int(port)), timeout=300) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * MIB)
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            more = sock.recv(65536)
            if not more:
                raise SystemExit(f"GET {url}: connection closed before the headers")
            head += more
        raw, _, rest = head.partition(b"\r\n\r\n")
        status_line, *header_lines = raw.decode("latin-1").split("\r\n")
        hdrs = {}
        for line in header_lines:
            key, _, value = line.partition(":")
            hdrs[key.strip().lower()] = value.strip()
        status = int(status_line.split()[1])
        length = int(hdrs.get("content-length", "0"))
        got = len(rest)
        view = memoryview(bytearray(8 * MIB))
        while got < length:
            n = sock.recv_into(view)
            if not n:
                break
            got += n
    return status, hdrs, got


def pull_whole(srv: Endpoint, blob: Blob) -> float:
    t0 = time.perf_counter()
    n = _get_blob(srv, blob, {}, 200)
    elapsed = time.perf_counter() - t0
    if n != blob.size:
        raise SystemExit(f"{srv.name}: pulled {n} bytes, wanted {blob.size}")
    return elapsed


def pull_ranges(srv: Endpoint, blob: Blob, piece: int) -> float:
    t0 = time.perf_counter()
    total = 0
    for start in range(0, blob.size, piece):
        end = min(start + piece, blob.size) - 1
        total += _get_blob(srv, blob, {"Range": f"bytes={start}-{end}"}, 206)
    elapsed = time.perf_counter() - t0
    if total != blob.size:
        raise SystemExit(f"{srv.name}: ranges gave {total} bytes, wanted {blob.size}")
    return elapsed


def push_small_blob(srv: Endpoint, data: bytes) -> dict[str, Any]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    _, hdrs, _ = call(srv, "POST", f"/v2/{REPO}/blobs/uploads/", (202,), body=b"")
    call(
        srv,
        "PUT",
        with_digest(location(srv, hdrs), digest),
        (201,),
        {"Content-Type": "application/octet-stream", "Content-Length": str(len(data))},
        data,
    )
    return {"digest": digest, "size": len(data)}


def push_tags(srv: Server) -> None:
    """t0..t99, each its own manifest (own config blob) over one shared small layer."""
    layer = {"mediaType": OCI_LAYER, **push_small_blob(srv, os.urandom(4096))}
    for i in range(TAGS):
        config = json.dumps(
            {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers",
             "diff_ids": [layer["digest"]]}, "config": {"Labels": {"tag": f"t{i}"}}}
        ).encode()  # fmt: skip
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, **push_small_blob(srv, config)},
            "layers": [layer],
        }
        body = json.dumps(manifest).encode()
        call(srv, "PUT", f"/v2/{REPO}/manifests/t{i}", (201,), {"Content-Type": OCI_MANIFEST},
             body)  # fmt: skip


# --------------------------------------------------------------------------- load


WRK_LUA = r"""
local paths = {}
local i = 0
init = function(args)
  for _, p in ipairs(args) do table.insert(paths, p) end
end
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, ' ..
    '"read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d, ' ..
    '"lat_p50_ms": %.3f, "lat_p99_ms": %.3f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def load_wrk(
    srv: Server, paths: list[str], seconds: float, conns: int, work: Path
) -> dict[str, Any]:
    script = work / "bench.lua"
    script.write_text(WRK_LUA)
    headers = {"Accept": OCI_MANIFEST, **srv.auth.headers()}
    hargs = [x for k, v in headers.items() for x in ("-H", f"{k}: {v}")]
    # Warm-up, discarded, the same for both servers: connections open, caches and the
    # page cache filled, so the measured run sees the steady state.
    subprocess.run(
        ["wrk", "-t2", f"-c{conns}", "-d2s", "--timeout", "10s",
         *hargs, "-s", str(script), srv.url, "--", *paths],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu0 = srv.cpu()
    done = subprocess.run(
        ["wrk", "-t2", f"-c{conns}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
         *hargs, "-s", str(script), srv.url, "--", *paths],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    server_cpu = srv.cpu() - server_cpu0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next(x for x in done.stdout.splitlines() if x.startswith("WRKJSON "))
    res: dict[str, Any] = json.loads(line[len("WRKJSON ") :])
    wall = res["duration_us"] / 1e6
    res["rps"] = res["requests"] / wall
    res["client"] = "wrk -t2"
    res["client_cpu_cores"] = (
        (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    ) / wall
    res["server_cpu_cores"] = server_cpu / wall
    res["errors"] = sum(
        res[k]
        for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    )
    return res


def load_aiohttp(srv: Server, paths: list[str], seconds: float, conns: int) -> dict[str, Any]:
    import aiohttp

    try:
        import uvloop

        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    headers = {"Accept": OCI_MANIFEST, **srv.auth.headers()}
    counts = {"ok": 0, "errors": 0}
    latencies: list[float] = []

    async def worker(session: aiohttp.ClientSession, deadline: float, k: int) -> None:
        i = k
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            try:
                async with session.get(srv.url + paths[i % len(paths)]) as resp:
                    await resp.read()
                    counts["ok" if resp.status == 200 else "errors"] += 1
            except aiohttp.ClientError:
                counts["errors"] += 1
            latencies.append(time.perf_counter() - t)
            i += 1

    async def main() -> float:
        connector = aiohttp.TCPConnector(limit=conns)
        async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
            t0 = time.perf_counter()
            deadline = t0 + seconds
            await asyncio.gather(*(worker(session, deadline, k) for k in range(conns)))
            return time.perf_counter() - t0

    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = srv.cpu()
    if loop_factory is not None:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            wall = runner.run(main())
    else:
        wall = asyncio.run(main())
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    latencies.sort()
    total = counts["ok"] + counts["errors"]
    return {
        "requests": total,
        "rps": total / wall,
        "errors": counts["errors"],
        "lat_p50_ms": latencies[len(latencies) // 2] * 1000 if latencies else 0,
        "lat_p99_ms": latencies[int(len(latencies) * 0.99)] * 1000 if latencies else 0,
        "client": "aiohttp+uvloop (1 process)",
        "client_cpu_cores": ((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)) / wall,
        "server_cpu_cores": (srv.cpu() - cpu0) / wall,
    }


# --------------------------------------------------------------------------- driver


def run_one(srv: Server, blob: Blob, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    res: dict[str, Any] = {"server": srv.name}
    mb, gib = blob.size / 1e6, blob.size / (1 << 30)

    def timed(
        label: str,
        fn: Callable[[], float],
        first: float | None = None,
        prepare: Callable[[], None] | None = None,
    ) -> None:
        times, cpus, client = [], [], []
        for _ in range(args.repeat):
            if prepare is not None:
                prepare()  # before the clocks start
            c0, t0 = srv.cpu(), time.thread_time()
            times.append(fn())
            client.append((time.thread_time() - t0) * 1000 / gib)
            cpus.append((srv.cpu() - c0) * 1000 / gib)
        res[label] = {
            "mb_s": mb / statistics.median(times),
            "first_mb_s": mb / (times[0] if first is None else first),
            "seconds": times,
            "cpu_ms_per_gib": statistics.median(cpus),
            "client_cpu_ms_per_gib": statistics.median(client),
        }
        print(f"  {label:<22} {res[label]['mb_s']:9.1f} MB/s   runs {fmt_times(times)}   "
              f"server CPU {res[label]['cpu_ms_per_gib']:.0f} ms/GiB", flush=True)  # fmt: skip

    print(f"{srv.name} at {srv.url}", flush=True)
    variants = Variants(blob)
    current = [blob]

    def new_content() -> None:
        current[0] = variants.next()

    try:
        timed("push_monolithic", lambda: push_monolithic(srv, current[0]), prepare=new_content)
        timed(
            "push_chunked",
            lambda: push_chunked(srv, current[0], args.chunk_mib * MIB),
            prepare=new_content,
        )
    finally:
        variants.restore()
    push_monolithic(srv, blob)  # the blob the pulls read, untimed
    # The first pull after that push is its own figure (cold where the push bypassed the
    # page cache); the median is of the runs after it.
    first = pull_whole(srv, blob)
    timed("pull_whole", lambda: pull_whole(srv, blob), first)
    timed("pull_ranges", lambda: pull_ranges(srv, blob, args.range_mib * MIB))

    push_tags(srv)
    loads = {
        "manifest_get": [f"/v2/{REPO}/manifests/t{i}" for i in range(TAGS)],
        "tag_list": [f"/v2/{REPO}/tags/list"],
    }
    for label, paths in loads.items():
        # --repeat runs, the median by rate: one loaded run on this kind of VM varies by a third.
        runs = []
        for _ in range(args.repeat):
            if shutil.which("wrk") and not args.aiohttp:
                runs.append(load_wrk(srv, paths, args.duration, args.connections, work))
            else:
                runs.append(load_aiohttp(srv, paths, args.duration, args.connections))
        runs.sort(key=lambda x: float(x["rps"]))
        r = runs[len(runs) // 2]
        r["runs_rps"] = [round(float(x["rps"])) for x in runs]
        res[label] = r
        print(
            f"  {label:<22} {r['rps']:9.0f} req/s  (runs {r['runs_rps']})  "
            f"p50 {r['lat_p50_ms']:.2f} ms  "
            f"p99 {r['lat_p99_ms']:.2f} ms  errors {r['errors']}  "
            f"server CPU {r['server_cpu_cores']:.2f} cores  "
            f"client CPU {r['client_cpu_cores']:.2f} cores ({r['client']})",
            flush=True,
        )
    return res


def run_concurrency(
    srv: Endpoint, layers: concurrency.Layers, args: argparse.Namespace
) -> dict[str, Any]:
    """--clients pulling one --layer-mib layer at once, then as many pushing different ones."""
    size = len(layers.base) + concurrency.SUFFIX
    digest = "sha256:" + hashlib.sha256(layers.base + bytes(concurrency.SUFFIX)).hexdigest()
    if not isinstance(srv, BareEndpoint):
        push_small_blob(srv, layers.base + bytes(concurrency.SUFFIX))
    headers = srv.auth.headers()  # one token for the whole figure (they live ~5 minutes)
    url = urllib.parse.urljoin(srv.url + "/", f"/v2/{REPO}/blobs/{digest}")

    def get() -> int:
        status, _, n = sink_get(url, headers)
        if status != 200:
            raise RuntimeError(f"GET -> {status}")
        return n

    pulls = [concurrency.pull_round(get, args.clients, size) for _ in range(args.repeat)]
    pushes = [
        concurrency.push_round(srv.url, REPO, headers, layers, args.clients)
        for _ in range(args.repeat)
    ]
    res: dict[str, Any] = {
        "server": srv.name,
        "pull": concurrency.summarise(size, args.clients, pulls),
        "push": concurrency.summarise(size, args.clients, pushes),
    }
    print(f"  {srv.name:<34} pull {res['pull']['mb_s']:8.1f} MB/s  p99 {res['pull']['p99_s']:6.2f}s"
          f"   push {res['push']['mb_s']:8.1f} MB/s  p99 {res['push']['p99_s']:6.2f}s",
          flush=True)  # fmt: skip
    return res


def fmt_times(times: list[float]) -> str:
    return " ".join(f"{t:.2f}s" for t in times)


# (label, unit, figure key in a result, limit key, get); a limit key of None: no limit.
ROWS: list[tuple[str, str, str | None, Callable[[dict[str, Any]], float]]] = [
    ("blob push, monolithic", "MB/s", "push_monolithic", lambda r: r["push_monolithic"]["mb_s"]),
    ("blob push, chunked", "MB/s", "push_chunked", lambda r: r["push_chunked"]["mb_s"]),
    ("blob pull, whole", "MB/s", "pull_whole", lambda r: r["pull_whole"]["mb_s"]),
    # The first pull right after the pushes: from the disk where the push bypassed the page
    # cache (cargohold's O_DIRECT writes), from memory where it did not.
    ("  first, after the push", "MB/s", "pull_whole", lambda r: r["pull_whole"]["first_mb_s"]),
    ("blob pull, ranges", "MB/s", "pull_ranges", lambda r: r["pull_ranges"]["mb_s"]),
    ("  server CPU, push mono", "ms/GiB", None,
     lambda r: r["push_monolithic"]["cpu_ms_per_gib"]),
    ("  server CPU, pull whole", "ms/GiB", None, lambda r: r["pull_whole"]["cpu_ms_per_gib"]),
    ("  client CPU, pull whole", "ms/GiB", None,
     lambda r: r["pull_whole"]["client_cpu_ms_per_gib"]),
    ("manifest GET", "req/s", None, lambda r: r["manifest_get"]["rps"]),
    ("tag list", "req/s", None, lambda r: r["tag_list"]["rps"]),
    ("peak RSS", "MiB", None, lambda r: r["peak_rss_bytes"] / MIB),
]  # fmt: skip


def render(lines: list[list[str]], left: int) -> str:
    """Columns padded to width: the first ``left`` left-aligned, the rest right-aligned."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = []
    for n, line in enumerate(lines):
        cells = [
            c.ljust(w) if i < left else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def table(results: list[dict[str, Any]], lim: dict[str, Any] | None) -> str:
    """One row per figure: the limit, then each server with its fraction of the limit
    ("/limit") and, for cargohold, its ratio to distribution ("/dist")."""
    base = next((r for r in results if r["server"] == "distribution"), None)
    head = ["figure", "unit"] + (["limit"] if lim else [])
    for r in results:
        head.append(r["server"])
        if lim:
            head.append("/limit")
        if base is not None and r is not base:
            head.append("/dist")
    lines = [head]
    for label, unit, key, get in ROWS:
        row = [label, unit]
        limit = float(lim[key]["mb_s"]) if lim and key else None
        if lim:
            row.append(f"{limit:,.1f}" if limit else "")
            if unit == "ms/GiB" and "pull" in label:
                key = "client_cpu_ms_per_gib" if "client" in label else "cpu_ms_per_gib"
                row[-1] = f"{lim['pull_whole'][key]:,.0f}"
        for r in results:
            v = get(r)
            row.append(f"{v:,.0f}" if unit in ("req/s", "ms/GiB") else f"{v:,.1f}")
            if lim:
                row.append(f"{v / limit:.2f}" if limit else "")
            if base is not None and r is not base:
                b = get(base)
                row.append(f"{v / b:.2f}" if b else "-")
        lines.append(row)
    return render(lines, 2)


def concurrency_table(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    base = next((r for r in results if r["server"] == "distribution"), None)
    lim = next((r for r in results if r["server"].startswith("bare")), None)
    head = ["server"]
    for what in ("pull", "push"):
        head += [f"{what} MB/s", "/limit", "/dist", "p50 s", "p99 s"]
    lines = [head]
    for r in results:
        row = [r["server"]]
        for what in ("pull", "push"):
            v = r[what]["mb_s"]
            row.append(f"{v:,.1f}")
            row.append(f"{v / lim[what]['mb_s']:.2f}" if lim and r is not lim else "")
            row.append(f"{v / base[what]['mb_s']:.2f}" if base and r not in (base, lim) else "")
            row += [f"{r[what]['p50_s']:.2f}", f"{r[what]['p99_s']:.2f}"]
        lines.append(row)
    return (
        f"{args.clients} clients at once: pulling one {args.layer_mib} MiB layer, pushing "
        f"different ones (MB/s: median of {args.repeat} rounds; p50/p99 of each transfer)\n"
        + render(lines, 1)
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="smaller and shorter: --size-mib 256 --duration 3 --layer-mib 16\n"
                        "(explicit options win)")  # fmt: skip
    p.add_argument("--size-mib", type=int, help="blob size (default 1024)")
    p.add_argument("--auth", choices=["on", "off", "both"], default="both",
                   help="cargohold authentication (default both)")  # fmt: skip
    p.add_argument("--only", choices=["distribution", "cargohold"],
                   help="measure one registry only")  # fmt: skip
    p.add_argument("--json", type=Path, help="write the results as JSON to this path")
    p.add_argument("--duration", type=float, help="seconds per load test (default 10)")
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--repeat", type=int, default=3, help="runs of each figure (median)")
    p.add_argument("--chunk-mib", type=int, default=10)
    p.add_argument("--range-mib", type=int, default=64)
    p.add_argument("--clients", type=int, default=32,
                   help="concurrent clients for the concurrency figure (0: skip it)")  # fmt: skip
    p.add_argument("--layer-mib", type=int, help="layer size there (default 64)")
    p.add_argument("--workers", default="1,2",
                   help="cargohold --workers for the concurrency figure (default 1,2)")  # fmt: skip
    p.add_argument("--no-limits", action="store_true", help="skip measuring the machine's limits")
    p.add_argument("--aiohttp", action="store_true", help="use aiohttp even if wrk is installed")
    p.add_argument("--workdir", type=Path, help="keep data here instead of a temp dir")
    args = p.parse_args(argv)
    quick = {"size_mib": 256, "duration": 3.0, "layer_mib": 16}
    full = {"size_mib": 1024, "duration": 10.0, "layer_mib": 64}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.workers = sorted({int(w) for w in args.workers.split(",") if w.strip()})
    return args


def measure_limits(blob: Blob, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    print("machine limits (bare servers in their own processes; the disk in this one)")

    def bare(url: str) -> BareEndpoint:
        return BareEndpoint("bare", url, Auth(url, None))

    return limits.measure(
        blob.path, blob.size, work, args.repeat,
        {
            "pull_whole": lambda url: pull_whole(bare(url), blob),
            "pull_ranges": lambda url: pull_ranges(bare(url), blob, args.range_mib * MIB),
            "push_monolithic": lambda url: push_monolithic(bare(url), blob),
        },
        free_port,
        lambda pid: cpu_seconds(descendants(pid)),
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work_ctx = tempfile.TemporaryDirectory(prefix="cargohold-bench-") if not args.workdir else None
    work = Path(work_ctx.name) if work_ctx else args.workdir
    work.mkdir(parents=True, exist_ok=True)
    try:
        started = t0 = time.perf_counter()
        blob = make_blob(work / "blob.bin", args.size_mib * MIB)
        print(f"blob: {args.size_mib} MiB {blob.digest} ({time.perf_counter() - t0:.1f}s)")
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} "
              "(other work on the machine makes every figure noisy)")  # fmt: skip

        lim = None if args.no_limits else measure_limits(blob, args, work)
        auths = {"on": [True], "off": [False], "both": [False, True]}[args.auth]
        starters: list[Callable[[], Server]] = []
        if args.only in (None, "distribution"):
            starters.append(lambda: start_distribution(work))
        if args.only in (None, "cargohold"):
            for on in auths:
                starters.append(lambda on=on: start_cargohold(work, on))  # type: ignore[misc]

        layers = concurrency.Layers(args.layer_mib * MIB) if args.clients else None
        results, crowd = [], []
        for start in starters:
            srv = start()
            try:
                res = run_one(srv, blob, args, work)
                if layers is not None and (srv.name == "distribution" or 1 in args.workers):
                    crowd.append(run_concurrency(srv, layers, args))
            finally:
                _conns.clear()
                peak = srv.stop()
                shutil.rmtree(srv.log.parent, ignore_errors=True)  # its data: GiBs
            res["peak_rss_bytes"] = peak
            print(f"  {'peak RSS':<22} {peak / MIB:9.1f} MiB", flush=True)
            results.append(res)
        if layers is not None:
            print("concurrency", flush=True)
            if args.only in (None, "cargohold"):
                for workers in (w for w in args.workers if w != 1):
                    srv = start_cargohold(work, auths[0], workers)
                    try:
                        crowd.append(run_concurrency(srv, layers, args))
                    finally:
                        _conns.clear()
                        srv.stop()
                        shutil.rmtree(srv.log.parent, ignore_errors=True)
            if lim is not None:
                method = lim["pull_whole"]["method"]
                layer = work / "layer.bin"
                layer.write_bytes(layers.base + bytes(concurrency.SUFFIX))
                bare = limits.start_bare(method, layer, work, free_port())
                try:
                    crowd.append(run_concurrency(
                        BareEndpoint(f"bare {method} (limit)", bare.url, Auth(bare.url, None)),
                        layers, args))  # fmt: skip
                finally:
                    bare.stop()
            crowd.sort(key=lambda r: (not r["server"].startswith("bare"),
                                      r["server"] != "distribution"))  # fmt: skip

        print()
        if lim is not None:
            pulls = ", ".join(f"{name} {figs['pull_whole']['mb_s']:,.1f}"
                              for name, figs in lim["methods"].items())  # fmt: skip
            print(f"limits: pull by {lim['pull_whole']['method']} ({pulls} MB/s); push = "
                  f"write+sha256+fsync to the same disk (a bare server receiving it over "
                  f"loopback: {lim['push_net']['mb_s']:,.1f} MB/s)")  # fmt: skip
        print(table(results, lim))
        if crowd:
            print()
            print(concurrency_table(crowd, args))
        print(f"\n(medians of {args.repeat} runs each; total {time.perf_counter() - started:.0f}s)")
        if args.json:
            doc = {
                "size_mib": args.size_mib,
                "repeat": args.repeat,
                "duration_s": args.duration,
                "connections": args.connections,
                "clients": args.clients,
                "layer_mib": args.layer_mib,
                "cpus": os.cpu_count(),
                "limits": lim,
                "results": results,
                "concurrency": crowd,
            }
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(doc, indent=2) + "\n")
            print(f"\nwrote {args.json}")
        return 0
    finally:
        if work_ctx:
            work_ctx.cleanup()


if __name__ == "__main__":
    sys.exit(main())
