"""Scale-out benchmark (issue 9, section 5), on loopback, one measurement after the other.

    .venv/bin/python benchmarks/bench_cluster.py [--size-mib 128] [--repeat 3] [--gc-blobs 100000]
        [--duration 8] [--json results.json]

On one SeaweedFS (scripts/seaweedfs.sh, its own port and directory) and one PostgreSQL
(scripts/postgres.sh, likewise):

1. blob push and pull (monolithic PUT, whole GET) through cargohold's S3 backend and through
   distribution 2.8's S3 driver (Debian ``docker-registry``), ratio cargohold/distribution;
2. the pull path with redirect off (streamed through the registry) and on (307 to a pre-signed
   S3 URL, followed), for both registries;
3. throughput through HAProxy with one and with three cargohold replicas: manifest GETs per
   second (wrk) and concurrent blob pulls (MB/s);
4. the time and peak memory of one garbage collection over ``--gc-blobs`` blobs (half of them
   garbage, each with its bytes on a filesystem store), in a process of its own.

Figures are medians of ``--repeat`` runs. Nothing here is a test; run it on demand.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_registry as br

ROOT = Path(__file__).resolve().parents[1]
MIB = br.MIB


def script(name: str, command: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / name), command],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{name} {command}: {done.stderr[-2000:]}")
    return done.stdout


class Deps:
    """A private SeaweedFS and PostgreSQL for the run."""

    def __init__(self, work: Path) -> None:
        self.pg_root = Path(tempfile.mkdtemp(prefix="bench-cluster-pg-"))
        os.chmod(self.pg_root, 0o755)
        self.pg_env = {"TEST_PG_PORT": str(br.free_port()), "TEST_PG_DIR": str(self.pg_root / "pg")}
        self.s3_env = {"TEST_S3_PORT": "58730", "TEST_S3_DIR": str(work / "s3")}
        self.pg_url = script("postgres.sh", "start", self.pg_env).strip()
        self.s3: dict[str, str] = {}
        for line in script("seaweedfs.sh", "start", self.s3_env).splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            self.s3[key] = value

    def reset_db(self) -> None:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.pg_url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()

    def stop(self) -> None:
        script("seaweedfs.sh", "stop", self.s3_env)
        script("postgres.sh", "stop", self.pg_env)
        shutil.rmtree(self.pg_root, ignore_errors=True)


def start_distribution_s3(work: Path, deps: Deps, redirect: bool) -> br.Server:
    port = br.free_port()
    root = work / f"distribution-{'redirect' if redirect else 'stream'}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: error\n  accesslog:\n    disabled: true\n"
        "storage:\n"
        "  s3:\n"
        "    region: us-east-1\n"
        f"    regionendpoint: {deps.s3['TEST_S3_ENDPOINT']}\n"
        f"    bucket: {deps.s3['TEST_S3_BUCKET']}\n"
        f"    accesskey: {deps.s3['TEST_S3_ACCESS_KEY']}\n"
        f"    secretkey: {deps.s3['TEST_S3_SECRET_KEY']}\n"
        "    secure: false\n"
        "    v4auth: true\n"
        "    chunksize: 16777216\n"
        f"    rootdirectory: /bench-distribution-{root.name}\n"
        "  delete:\n    enabled: true\n"
        f"  redirect:\n    disable: {'false' if redirect else 'true'}\n"
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
            # aws-sdk-go v1 panics on AWS_CA_BUNDLE with its custom transport; plain HTTP here.
            env={k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"},
        )
    url = f"http://127.0.0.1:{port}"
    br.wait_ready(url, proc, log)
    return br.Server("distribution-s3", url, proc, log, br.Auth(url, None))


def cargohold_env(deps: Deps, redirect: bool, prefix: str) -> dict[str, str]:
    return {
        **os.environ,
        "CARGOHOLD_AUTH_ENABLED": "false",
        "CARGOHOLD_DATABASE_URL": deps.pg_url,
        "CARGOHOLD_STORAGE": "s3",
        "CARGOHOLD_S3_ENDPOINT": deps.s3["TEST_S3_ENDPOINT"],
        "CARGOHOLD_S3_BUCKET": deps.s3["TEST_S3_BUCKET"],
        "CARGOHOLD_S3_PREFIX": prefix,
        "CARGOHOLD_S3_ACCESS_KEY_ID": deps.s3["TEST_S3_ACCESS_KEY"],
        "CARGOHOLD_S3_SECRET_ACCESS_KEY": deps.s3["TEST_S3_SECRET_KEY"],
        "CARGOHOLD_STORAGE_REDIRECT": "true" if redirect else "false",
        "CARGOHOLD_GC_INTERVAL": "0",
        "CARGOHOLD_LOG_LEVEL": "warning",
    }


def start_cargohold_s3(work: Path, deps: Deps, redirect: bool, index: int = 0) -> br.Server:
    data = work / f"cargohold-{index}"
    data.mkdir(parents=True, exist_ok=True)
    port = br.free_port()
    log = data / "server.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                *br.cargohold_cmd(),
                "serve",
                "--data-dir",
                str(data),
                "--listen",
                f"127.0.0.1:{port}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=cargohold_env(deps, redirect, "bench-cargohold"),
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    br.wait_ready(url, proc, log)
    return br.Server(f"cargohold-s3[{index}]", url, proc, log, br.Auth(url, None))


def median_rate(size: int, runs: list[float]) -> float:
    return size / statistics.median(runs) / 1e6


def push_pull(srv: br.Server, blob: br.Blob, repeat: int) -> dict[str, float]:
    pushes = []
    for _ in range(repeat):
        pushes.append(br.push_monolithic(srv, blob))
    br.pull_whole(srv, blob)  # warm
    pulls = [br.pull_whole(srv, blob) for _ in range(repeat)]
    return {
        "push_mb_s": median_rate(blob.size, pushes),
        "pull_mb_s": median_rate(blob.size, pulls),
    }


# --- HAProxy ----------------------------------------------------------------------------------


def start_haproxy(work: Path, backends: list[br.Server]) -> tuple[subprocess.Popen[bytes], str]:
    port = br.free_port()
    servers = "\n".join(
        f"  server r{i} {b.url.removeprefix('http://')} check" for i, b in enumerate(backends)
    )
    config = work / f"haproxy-{len(backends)}.cfg"
    config.write_text(
        f"""global
  maxconn 1024
defaults
  mode http
  timeout connect 2s
  timeout client 120s
  timeout server 120s
  option http-server-close
frontend registry
  bind 127.0.0.1:{port}
  default_backend replicas
backend replicas
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
{servers}
"""
    )
    proc = subprocess.Popen(
        [shutil.which("haproxy") or "/usr/sbin/haproxy", "-db", "-f", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            status, _, _ = br.sink_get(f"{url}/readyz", {})
            if status == 200:
                break
        except (OSError, SystemExit):
            pass
        if time.monotonic() > deadline:
            raise SystemExit("haproxy did not come up")
        time.sleep(0.2)
    return proc, url


def lb_throughput(
    work: Path, lb_url: str, blob: br.Blob, seconds: float, conns: int
) -> dict[str, float]:
    lb = br.Server("haproxy", lb_url, subprocess.Popen(["sleep", "3600"]), work / "x.log",
                   br.Auth(lb_url, None))  # fmt: skip
    try:
        wrk = br.load_wrk(
            lb, [f"/v2/{br.REPO}/manifests/t{i}" for i in range(br.TAGS)], seconds, 32, work
        )
    finally:
        lb.proc.kill()
        lb.proc.wait()

    def pull() -> int:
        status, _, n = br.sink_get(f"{lb_url}/v2/{br.REPO}/blobs/{blob.digest}", {})
        if status != 200:
            raise SystemExit(f"pull through haproxy: {status}")
        return n

    started = time.perf_counter()
    total = 0
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        for n in pool.map(lambda _: pull(), range(12)):
            total += n
    elapsed = time.perf_counter() - started
    return {"manifest_rps": wrk["rps"], "pull_mb_s_6_clients": total / elapsed / 1e6}


# --- GC ---------------------------------------------------------------------------------------

GC_CHILD = r"""
import json, resource, sys, time
from datetime import timedelta
from cargohold.db.engine import make_engine
from cargohold.registry.gc import Collector
from cargohold.storage.registry import open_store
engine = make_engine(sys.argv[1]); store = open_store("filesystem", root=sys.argv[2])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
report = Collector(engine, store, timedelta(0)).collect()
elapsed = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": elapsed, "peak_rss_mib": peak / 1024,
                  "rss_growth_mib": (peak - base) / 1024, **report.as_dict()}))
"""


def gc_benchmark(work: Path, deps: Deps, blobs: int) -> dict[str, Any]:
    """``blobs`` blobs over 1,000 packages: half referenced by a manifest each, half garbage."""
    import hashlib
    from datetime import UTC, datetime, timedelta

    from cargohold.db import schema as s
    from cargohold.db.engine import make_engine, migrate

    deps.reset_db()
    engine = make_engine(deps.pg_url)
    migrate(engine)
    root = work / "gc-store"
    shutil.rmtree(root, ignore_errors=True)
    old = datetime.now(UTC) - timedelta(days=2)
    per_package = max(2, blobs // 1000)
    with engine.begin() as conn:
        conn.execute(s.accounts.insert().values(id=1, login="bench", kind="user", created_at=old))
        conn.execute(
            s.packages.insert(),
            [{"id": p, "owner_id": 1, "name": f"bench/p{p}", "created_at": old}
             for p in range(1, 1001)],
        )  # fmt: skip
        n = 0
        for p in range(1, 1001):
            rows_b, rows_l, rows_m, rows_r = [], [], [], []
            for i in range(per_package):
                digest = "sha256:" + hashlib.sha256(b"%d" % n).hexdigest()
                n += 1
                rows_b.append({"digest": digest, "size": 1, "created_at": old})
                rows_l.append({"package_id": p, "digest": digest, "created_at": old})
                if i % 2 == 0:
                    mdigest = "sha256:" + hashlib.sha256(b"m%d" % n).hexdigest()
                    rows_m.append({"package_id": p, "digest": mdigest, "media_type": "x",
                                   "size": 2, "content": b"{}", "created_at": old})  # fmt: skip
                    rows_r.append({"package_id": p, "parent_digest": mdigest,
                                   "child_digest": digest, "kind": "blob"})  # fmt: skip
                else:
                    path = root / "blobs" / "sha256" / digest[7:9] / digest[7:]
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(b"x")
            conn.execute(s.blobs.insert(), rows_b)
            conn.execute(s.package_blobs.insert(), rows_l)
            conn.execute(s.manifests.insert(), rows_m)
            conn.execute(s.manifest_refs.insert(), rows_r)
    engine.dispose()
    done = subprocess.run(
        [sys.executable, "-c", GC_CHILD, deps.pg_url, str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"gc child failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["blobs_total"] = per_package * 1000
    return result


# --- main -------------------------------------------------------------------------------------


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size-mib", type=int, default=128)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--gc-blobs", type=int, default=100_000)
    p.add_argument("--duration", type=float, default=8)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    blob = br.make_blob(work / "blob.bin", args.size_mib * MIB)
    results: dict[str, Any] = {"size_mib": args.size_mib}
    deps = Deps(work)
    started: list[br.Server] = []
    try:
        # 1 + 2: S3 push/pull, redirect off and on, both registries.
        for redirect in (False, True):
            mode = "redirect" if redirect else "stream"
            dist = start_distribution_s3(work, deps, redirect)
            started.append(dist)
            results[f"distribution_{mode}"] = push_pull(dist, blob, args.repeat)
            dist.stop()
            deps.reset_db()
            cargo = start_cargohold_s3(work, deps, redirect)
            started.append(cargo)
            results[f"cargohold_{mode}"] = push_pull(cargo, blob, args.repeat)
            cargo.stop()
        # 3: HAProxy with one and three replicas (tags t0..t99 for manifest GETs).
        deps.reset_db()
        replicas = [start_cargohold_s3(work, deps, False, i) for i in range(3)]
        started += replicas
        br.push_monolithic(replicas[0], blob)
        br.push_tags(replicas[0])
        for count in (1, 3):
            proc, url = start_haproxy(work, replicas[:count])
            try:
                results[f"haproxy_{count}_replica"] = lb_throughput(
                    work, url, blob, args.duration, 32
                )
            finally:
                proc.kill()
                proc.wait()
        for srv in replicas:
            srv.stop()
        # 4: one collection over --gc-blobs blobs.
        results["gc"] = gc_benchmark(work, deps, args.gc_blobs)
    finally:
        for srv in started:
            if srv.proc.poll() is None:
                srv.stop()
        deps.stop()
        shutil.rmtree(work, ignore_errors=True)
    report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


def report(r: dict[str, Any]) -> None:
    print(f"\nblob of {r['size_mib']} MiB, on SeaweedFS (S3), PostgreSQL; medians")
    for mode in ("stream", "redirect"):
        c, d = r[f"cargohold_{mode}"], r[f"distribution_{mode}"]
        print(
            f"  pull path {mode:8s}: push {c['push_mb_s']:7.1f} vs {d['push_mb_s']:7.1f} MB/s "
            f"(ratio {ratio(c['push_mb_s'], d['push_mb_s'])}), pull {c['pull_mb_s']:7.1f} vs "
            f"{d['pull_mb_s']:7.1f} MB/s (ratio {ratio(c['pull_mb_s'], d['pull_mb_s'])})"
        )
    one, three = r["haproxy_1_replica"], r["haproxy_3_replica"]
    print(
        f"  haproxy: manifest GET {one['manifest_rps']:.0f} -> {three['manifest_rps']:.0f} req/s, "
        f"blob pulls (6 clients) {one['pull_mb_s_6_clients']:.1f} -> "
        f"{three['pull_mb_s_6_clients']:.1f} MB/s, 1 -> 3 replicas"
    )
    g = r["gc"]
    print(
        f"  gc over {g['blobs_total']} blobs: {g['seconds']:.1f} s, peak RSS "
        f"{g['peak_rss_mib']:.0f} MiB (+{g['rss_growth_mib']:.0f}); removed {g['links']} links, "
        f"{g['blobs']} blobs"
    )


if __name__ == "__main__":
    sys.exit(main())
