"""A scale-out cluster for end-to-end tests: its own PostgreSQL and SeaweedFS, ``cargohold serve``
replicas on them, and HAProxy in front (round robin, health checks on ``/readyz``).

Each dependency is private to the cluster (own ports and directories) so the tests may stop and
restart it without disturbing the rest of the suite:

    with Cluster(tmp_path) as cluster:
        cluster.start(replicas=3)
        http("GET", f"{cluster.url}/v2/")          # through HAProxy
        cluster.restart_postgres()
        cluster.stop_s3(); cluster.start_s3()
        consistency_walk(cluster.url)

``consistency_walk`` (also for the soak test) checks a registry over HTTP: every tag resolves,
every manifest an index lists is there, every referenced blob is readable and hashes to its digest.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from support.e2e import http
from support.server import ServerProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
PGBIN = Path(os.environ.get("TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
ACCEPT = ", ".join(
    [
        *INDEX_TYPES,
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
UNAVAILABLE_BODY = {
    "errors": [{"code": "UNAVAILABLE", "message": "no replica is ready; retry later"}]
}


def _script(name: str, command: str, env: dict[str, str]) -> str:
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / name), command],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{name} {command} failed: {proc.stderr[-2000:]}")
    return proc.stdout


def _wait(check: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.2)
    raise TimeoutError(f"{what} not ready within {timeout}s")


@dataclass
class Cluster:
    tmp: Path
    replicas: list[ServerProcess] = field(default_factory=list)
    pg_port: int = 0
    s3_port: int = 0
    lb_port: int = 0
    stats_port: int = 0
    prefix: str = field(default_factory=lambda: f"cluster-{uuid.uuid4().hex[:8]}")
    s3_env: dict[str, str] = field(default_factory=dict)
    _weed_cmd: list[str] = field(default_factory=list)
    _haproxy: subprocess.Popen[bytes] | None = None
    _weed: subprocess.Popen[bytes] | None = None

    # --- PostgreSQL ---------------------------------------------------------------------------

    _pg_root: Path | None = None

    @property
    def pg_dir(self) -> Path:
        # Outside pytest's private (0700) temporary tree: the postgres user must reach it.
        if self._pg_root is None:
            self._pg_root = Path(tempfile.mkdtemp(prefix="cargohold-cluster-pg-"))
            os.chmod(self._pg_root, 0o755)
        return self._pg_root / "pg"

    def _pg_env(self) -> dict[str, str]:
        return {"TEST_PG_PORT": str(self.pg_port), "TEST_PG_DIR": str(self.pg_dir)}

    def start_postgres(self) -> str:
        self.pg_port = self.pg_port or free_port()
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.pg_url = _script("postgres.sh", "start", self._pg_env()).strip()
        return self.pg_url

    def _pg_ctl(self, *args: str) -> None:
        cmd = [str(PGBIN / "pg_ctl"), "-D", str(self.pg_dir / "data"), *args]
        if os.getuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True)

    def stop_postgres(self) -> None:
        self._pg_ctl("-m", "fast", "-w", "-t", "60", "stop")

    def resume_postgres(self) -> None:
        self._pg_ctl("-l", str(self.pg_dir / "server.log"), "-w", "-t", "60", "start")

    # --- SeaweedFS ----------------------------------------------------------------------------

    def _s3_env_vars(self) -> dict[str, str]:
        return {"TEST_S3_PORT": str(self.s3_port), "TEST_S3_DIR": str(self.tmp / "s3")}

    def start_s3(self) -> None:
        """First start through scripts/seaweedfs.sh; later starts relaunch the same command
        on the same directory (the script's start wipes it)."""
        if self._weed_cmd:
            # Kept, so stop_s3 reaps it (a dropped Popen of a live child is a ResourceWarning).
            self._weed = subprocess.Popen(
                self._weed_cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                cwd=ROOT,
            )
        else:
            self.s3_port = self.s3_port or _free_block()
            out = _script("seaweedfs.sh", "start", self._s3_env_vars())
            for line in out.splitlines():
                key, _, value = line.removeprefix("export ").partition("=")
                self.s3_env[key] = value
            pid = int((self.tmp / "s3" / "weed.pid").read_text())
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
            self._weed_cmd = [part.decode() for part in raw.split(b"\0") if part]
        _wait(self._s3_answers, "SeaweedFS")

    def _s3_answers(self) -> bool:
        resp = http("GET", f"http://127.0.0.1:{self.s3_port}/{self.s3_env['TEST_S3_BUCKET']}/")
        return resp.status == 403

    def _weed_pids(self) -> list[int]:
        out = subprocess.run(
            ["pgrep", "-f", "--", f"-s3.port={self.s3_port} "], capture_output=True, text=True
        ).stdout
        return [int(p) for p in out.split()]

    def stop_s3(self) -> None:
        for pid in self._weed_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _wait(lambda: not self._weed_pids(), "SeaweedFS stop", 30)
        if self._weed is not None:
            self._weed.wait()
            self._weed = None

    # --- replicas and HAProxy -----------------------------------------------------------------

    def replica_env(self) -> dict[str, str]:
        return {
            "CARGOHOLD_AUTH_ENABLED": "false",
            "CARGOHOLD_DATABASE_URL": self.pg_url,
            "CARGOHOLD_STORAGE": "s3",
            "CARGOHOLD_S3_ENDPOINT": self.s3_env["TEST_S3_ENDPOINT"],
            "CARGOHOLD_S3_BUCKET": self.s3_env["TEST_S3_BUCKET"],
            "CARGOHOLD_S3_PREFIX": self.prefix,
            "CARGOHOLD_S3_ACCESS_KEY_ID": self.s3_env["TEST_S3_ACCESS_KEY"],
            "CARGOHOLD_S3_SECRET_ACCESS_KEY": self.s3_env["TEST_S3_SECRET_KEY"],
            "CARGOHOLD_S3_PART_SIZE": str(5 * 1024 * 1024),
            "CARGOHOLD_GC_INTERVAL": "0",
        }

    def start_replica(self, index: int) -> ServerProcess:
        server = ServerProcess().start(self.tmp / f"replica{index}", env=self.replica_env())
        if index < len(self.replicas):
            self.replicas[index] = server
            if self._haproxy is not None:  # a restarted replica has a new port
                self._haproxy.kill()
                self._haproxy.wait()
                self.start_haproxy()
        else:
            self.replicas.append(server)
        return server

    def start(self, replicas: int = 3) -> Self:
        self.start_postgres()
        self.start_s3()
        for index in range(replicas):
            self.start_replica(index)
        self.start_haproxy()
        return self

    def haproxy_config(self) -> str:
        servers = "\n".join(
            f"  server r{i} 127.0.0.1:{r.port} check" for i, r in enumerate(self.replicas)
        )
        return f"""global
  maxconn 512
defaults
  mode http
  timeout connect 2s
  timeout client 120s
  timeout server 120s
  option http-server-close
  option redispatch
  retries 3
  errorfile 503 {self.tmp / "503.http"}
frontend registry
  bind 127.0.0.1:{self.lb_port}
  default_backend replicas
backend replicas
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 300ms fall 2 rise 1
{servers}
listen stats
  bind 127.0.0.1:{self.stats_port}
  stats enable
  stats uri /stats
"""

    def start_haproxy(self) -> None:
        haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
        self.lb_port = self.lb_port or free_port()
        self.stats_port = self.stats_port or free_port()
        config = self.tmp / "haproxy.cfg"
        # With every replica unready, HAProxy answers itself: the same OCI 503 + Retry-After.
        body = json.dumps(UNAVAILABLE_BODY)
        (self.tmp / "503.http").write_text(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Retry-After: 5\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}"
        )
        config.write_text(self.haproxy_config())
        # The child keeps its own descriptor of the log; ours closes at once.
        with (self.tmp / "haproxy.log").open("ab") as log:
            self._haproxy = subprocess.Popen(
                [haproxy, "-db", "-f", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        _wait(lambda: http("GET", f"{self.url}/v2/").status == 200, "HAProxy")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.lb_port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.lb_port}"

    def requests_per_replica(self) -> dict[str, int]:
        """Requests HAProxy sent to each replica so far (its stats, CSV)."""
        body = http("GET", f"http://127.0.0.1:{self.stats_port}/stats;csv").text.lstrip("# ")
        rows = csv.DictReader(io.StringIO(body))
        return {
            row["svname"]: int(row["stot"] or 0)
            for row in rows
            if row["pxname"] == "replicas" and row["svname"].startswith("r")
        }

    def up_replicas(self) -> int:
        body = http("GET", f"http://127.0.0.1:{self.stats_port}/stats;csv").text.lstrip("# ")
        rows = csv.DictReader(io.StringIO(body))
        return sum(
            1
            for row in rows
            if row["pxname"] == "replicas"
            and row["svname"].startswith("r")
            and row["status"] == "UP"
        )

    def logs(self) -> str:
        return "\n".join(
            f"=== replica {i}\n{r.logs()[-3000:]}" for i, r in enumerate(self.replicas)
        )

    def stop(self) -> None:
        if self._haproxy is not None:
            self._haproxy.kill()
            self._haproxy.wait()
        for replica in self.replicas:
            replica.stop()
        if self.s3_port:
            with contextlib.suppress(Exception):
                self.stop_s3()
            shutil.rmtree(self.tmp / "s3", ignore_errors=True)
        if self.pg_port:
            with contextlib.suppress(Exception):
                _script("postgres.sh", "stop", self._pg_env())
            if self._pg_root is not None:
                shutil.rmtree(self._pg_root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _free_block() -> int:
    """A base port P with P..P+14 free (SeaweedFS uses P+1..P+4 and P+10..P+14)."""
    import socket

    for _ in range(50):
        base = free_port()
        if base > 60000:
            continue
        try:
            socks = []
            for offset in range(15):
                sock = socket.socket()
                socks.append(sock)
                sock.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
        return base
    raise RuntimeError("no free block of 15 ports")


# --- the consistency walk ---------------------------------------------------------------------


@dataclass
class Walk:
    repositories: int = 0
    tags: int = 0
    manifests: int = 0
    blobs: int = 0
    problems: list[str] = field(default_factory=list)


def consistency_walk(base_url: str, *, retries: int = 3) -> Walk:
    """Walk every repository of the registry at ``base_url`` (auth off) and return what was
    checked; ``problems`` lists every tag that does not resolve, every manifest an index lists
    that is missing, and every referenced blob that is missing or does not hash to its digest.
    """
    walk = Walk()
    catalog = _get(base_url, "/v2/_catalog?n=100000", retries).json()["repositories"]
    seen_blobs: set[tuple[str, str]] = set()
    for name in catalog:
        walk.repositories += 1
        listing = _get(base_url, f"/v2/{name}/tags/list", retries)
        for tag in listing.json().get("tags") or []:
            walk.tags += 1
            _walk_manifest(base_url, name, tag, walk, seen_blobs, retries)
    return walk


def _get(base_url: str, path: str, retries: int, accept: str | None = None) -> Any:
    headers = {"Accept": accept} if accept else {}
    resp = http("GET", base_url + path, headers=headers, timeout=120)
    for _ in range(retries):
        if resp.status < 500:
            break
        time.sleep(1)
        resp = http("GET", base_url + path, headers=headers, timeout=120)
    return resp


def _walk_manifest(
    base: str, name: str, ref: str, walk: Walk, seen: set[tuple[str, str]], retries: int
) -> None:
    resp = _get(base, f"/v2/{name}/manifests/{ref}", retries, ACCEPT)
    if resp.status != 200:
        walk.problems.append(f"{name}:{ref}: manifest GET {resp.status}")
        return
    walk.manifests += 1
    digest = "sha256:" + hashlib.sha256(resp.body).hexdigest()
    if ref.startswith("sha256:") and digest != ref:
        walk.problems.append(f"{name}@{ref}: content hashes to {digest}")
    doc = json.loads(resp.body)
    for child in doc.get("manifests") or []:
        _walk_manifest(base, name, child["digest"], walk, seen, retries)
    for blob in [doc.get("config"), *(doc.get("layers") or [])]:
        if not blob or (name, blob["digest"]) in seen:
            continue
        seen.add((name, blob["digest"]))
        walk.blobs += 1
        got = _get(base, f"/v2/{name}/blobs/{blob['digest']}", retries)
        if got.status != 200:
            walk.problems.append(f"{name}: blob {blob['digest']}: GET {got.status}")
            continue
        algorithm, _, _hex = blob["digest"].partition(":")
        actual = f"{algorithm}:{hashlib.new(algorithm, got.body).hexdigest()}"
        if actual != blob["digest"] or len(got.body) != blob["size"]:
            walk.problems.append(f"{name}: blob {blob['digest']} reads as {actual}")
