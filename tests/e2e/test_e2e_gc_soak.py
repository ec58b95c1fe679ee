"""Soak: concurrent pushes, mounts, deletes, pulls and garbage collections (issue 9, section 3).

Three ``cargohold serve`` replicas on the suite's PostgreSQL and one shared blob directory;
client threads push images (blobs from a small pool, so the same content is uploaded, mounted,
unreferenced, collected and uploaded again all the time), mount blobs across repositories,
delete versions and tags and pull, while two collectors (as two replicas would, contending for the
lease) collect with a grace period of zero: the harshest setting, where a blob is collectible
the moment nothing references it. At the end, with everything quiet, it counts

- dangling references: a tag without its manifest, a manifest reference to a blob the package
  no longer links or to a missing child manifest, a link to a blob row that is not live;
- lost blobs: a live blob row whose bytes are not in the store;
- orphaned bytes: bytes in the store no blob row knows (after the last, quiet collection);

which must all be 0, and the consistency walk over HTTP must find nothing wrong. The size is
``SOAK_EVENTS`` (default 3000): an event is one registry request (blob push, mount, manifest
PUT, delete, pull) or one collection attempt; the closing figure was run with
``SOAK_EVENTS=100000``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from http.client import HTTPConnection
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from cargohold.db.engine import make_engine
from cargohold.registry.gc import Collector
from cargohold.storage.registry import open_store
from support.cluster import consistency_walk
from support.db import reset_postgres
from support.server import ServerProcess

EVENTS = int(os.environ.get("SOAK_EVENTS", "3000"))
THREADS = 6
REPOS = [f"soak/r{i}" for i in range(4)]
POOL = [hashlib.sha256(b"pool %d" % i).digest() * (1 + i % 7) for i in range(40)]
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Client:
    """Keep-alive HTTP to the replicas, a different one per request (round robin)."""

    def __init__(self, hosts: list[str], counter: Callable[[], None]) -> None:
        self._conns = [HTTPConnection(h, timeout=60) for h in hosts]
        self._next = random.randrange(len(hosts))
        self._counter = counter

    def close(self) -> None:
        for conn in self._conns:
            conn.close()

    def __call__(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        conn = self._conns[self._next % len(self._conns)]
        self._next += 1
        self._counter()
        for attempt in range(2):
            try:
                conn.request(method, path, body=body, headers=headers or {})
                resp = conn.getresponse()
                return resp.status, resp.read()
            except (ConnectionError, OSError):
                conn.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")


class Soak:
    def __init__(self, hosts: list[str], events: int) -> None:
        self.hosts = hosts
        self.budget = events
        self.events = 0
        self.lock = threading.Lock()
        self.outcomes: Counter[str] = Counter()
        self.failures: list[str] = []

    def take(self) -> bool:
        """Whether the budget allows another operation."""
        with self.lock:
            return self.events < self.budget

    def event(self) -> None:
        with self.lock:
            self.events += 1

    def count(self, what: str) -> None:
        with self.lock:
            self.outcomes[what] += 1

    def fail(self, message: str) -> None:
        with self.lock:
            self.failures.append(message)

    def worker(self, seed: int) -> None:
        rng = random.Random(seed)
        call = Client(self.hosts, self.event)
        ops: list[tuple[float, Callable[[random.Random, Client], None]]] = [
            (0.35, self.push),
            (0.15, self.mount_and_push),
            (0.2, self.delete_version),
            (0.05, self.delete_tag),
            (0.25, self.pull),
        ]
        weights = [w for w, _ in ops]
        try:
            while self.take():
                (op,) = rng.choices([fn for _, fn in ops], weights)
                try:
                    op(rng, call)
                except Exception as exc:  # a crash of the client thread is a finding too
                    self.fail(f"{op.__name__}: {type(exc).__name__}: {exc}")
        finally:
            call.close()

    def _upload(self, call: Client, repo: str, data: bytes) -> bool:
        status, body = call("POST", f"/v2/{repo}/blobs/uploads/?digest={digest(data)}", data)
        if status == 201:
            self.count("blob pushed")
            return True
        if status == 503 and b"garbage-collected" in body:
            self.count("blob push met a collection (503, retry)")
            return False
        self.fail(f"blob push {status} {body[:200]!r}")
        return False

    def _put(self, rng: random.Random, call: Client, repo: str, layers: list[bytes]) -> None:
        config = json.dumps({"os": "linux", "n": rng.random()}).encode()
        if not self._upload(call, repo, config):
            return
        doc = {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": digest(config),
                "size": len(config),
            },
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(x),
                 "size": len(x)}
                for x in layers
            ],
        }  # fmt: skip
        tag = f"t{rng.randrange(8)}"
        status, body = call(
            "PUT", f"/v2/{repo}/manifests/{tag}", json.dumps(doc).encode(),
            {"Content-Type": MANIFEST},
        )  # fmt: skip
        if status == 201:
            self.count("manifest pushed")
        elif status == 400 and b"MANIFEST_BLOB_UNKNOWN" in body:
            self.count("manifest refused: blob collected first")
        else:
            self.fail(f"manifest put {status} {body[:200]!r}")

    def push(self, rng: random.Random, call: Client) -> None:
        repo = rng.choice(REPOS)
        layers = rng.sample(POOL, rng.randint(1, 2))
        if all(self._upload(call, repo, layer) for layer in layers):
            self._put(rng, call, repo, layers)

    def mount_and_push(self, rng: random.Random, call: Client) -> None:
        source, repo = rng.sample(REPOS, 2)
        layer = rng.choice(POOL)
        status, body = call(
            "POST", f"/v2/{repo}/blobs/uploads/?mount={digest(layer)}&from={source}"
        )
        if status == 201:
            self.count("blob mounted")
            self._put(rng, call, repo, [layer])
        elif status == 202:
            self.count("mount fell back to an upload session")
        else:
            self.fail(f"mount {status} {body[:200]!r}")

    def delete_version(self, rng: random.Random, call: Client) -> None:
        repo = rng.choice(REPOS)
        status, body = call(
            "GET", f"/v2/{repo}/manifests/t{rng.randrange(8)}", headers={"Accept": MANIFEST}
        )
        if status != 200:
            self.count("delete: nothing to delete")
            return
        status, body = call("DELETE", f"/v2/{repo}/manifests/{digest(body)}")
        if status in (202, 404):
            self.count("version deleted" if status == 202 else "delete: already gone")
        else:
            self.fail(f"delete {status} {body[:200]!r}")

    def delete_tag(self, rng: random.Random, call: Client) -> None:
        repo = rng.choice(REPOS)
        status, body = call("DELETE", f"/v2/{repo}/manifests/t{rng.randrange(8)}")
        if status in (202, 404):
            self.count("tag deleted" if status == 202 else "delete: already gone")
        else:
            self.fail(f"tag delete {status} {body[:200]!r}")

    def pull(self, rng: random.Random, call: Client) -> None:
        repo = rng.choice(REPOS)
        status, body = call(
            "GET", f"/v2/{repo}/manifests/t{rng.randrange(8)}", headers={"Accept": MANIFEST}
        )
        if status == 404:
            self.count("pull: no such tag")
            return
        if status != 200:
            self.fail(f"pull manifest {status} {body[:200]!r}")
            return
        self.count("manifest pulled")
        for layer in json.loads(body)["layers"]:
            status, data = call("GET", f"/v2/{repo}/blobs/{layer['digest']}")
            if status == 200 and digest(data) != layer["digest"]:
                self.fail(f"pull: blob {layer['digest']} has other content")
            # 404 is possible: the version was deleted (and collected) after the manifest GET.


DANGLING = {
    "tag without manifest": """SELECT count(*) FROM tags t WHERE NOT EXISTS (SELECT 1 FROM
        manifests m WHERE m.package_id = t.package_id AND m.digest = t.digest)""",
    "blob reference without link": """SELECT count(*) FROM manifest_refs r WHERE r.kind = 'blob'
        AND NOT EXISTS (SELECT 1 FROM package_blobs pb WHERE pb.package_id = r.package_id
        AND pb.digest = r.child_digest)""",
    "manifest reference without manifest": """SELECT count(*) FROM manifest_refs r
        WHERE r.kind = 'manifest' AND NOT EXISTS (SELECT 1 FROM manifests m
        WHERE m.package_id = r.package_id AND m.digest = r.child_digest)""",
    "link to a blob that is not live": """SELECT count(*) FROM package_blobs pb WHERE NOT EXISTS
        (SELECT 1 FROM blobs b WHERE b.digest = pb.digest AND b.state = 'live')""",
}


def own_database(url: str, name: str = "cargohold_soak") -> str:
    """A database of its own on the suite's PostgreSQL (emptied), so a long soak never shares
    tables with other tests."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if found.first() is None:
            conn.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    own = make_url(url).set(database=name).render_as_string(hide_password=False)
    reset_postgres(own)
    return own


@pytest.mark.postgres
def test_gc_soak(tmp_path: Path, postgres_url: str) -> None:
    postgres_url = own_database(postgres_url)
    data_dir = tmp_path / "shared"
    env = {
        "CARGOHOLD_AUTH_ENABLED": "false",
        "CARGOHOLD_DATABASE_URL": postgres_url,
        "CARGOHOLD_GC_INTERVAL": "0",
        "CARGOHOLD_LOG_LEVEL": "warning",
    }
    replicas = [ServerProcess().start(data_dir, env=env) for _ in range(3)]
    engine = make_engine(postgres_url)
    store = open_store("filesystem", root=str(data_dir / "storage"))
    soak = Soak([r.host for r in replicas], EVENTS)
    # The repositories exist before the threads start, so the soak measures collection races
    # (concurrent creation has its own test: tests/unit/registry/test_packages.py).
    warm = Client([replicas[0].host], lambda: None)
    for repo in REPOS:
        assert soak._upload(warm, repo, POOL[0])
    warm.close()
    stop = threading.Event()
    collections: Counter[str] = Counter()

    def collect() -> None:
        collector = Collector(engine, store, timedelta(0))
        while not stop.is_set():
            try:
                report = collector.collect()
            except Exception as exc:
                soak.fail(f"collection: {type(exc).__name__}: {exc}")
                continue
            soak.event()
            collections["ran" if report.ran else "lease held elsewhere"] += 1
            collections["blobs collected"] += len(report.blobs)
            collections["links collected"] += len(report.links)
            collections["orphaned bytes collected"] += len(report.orphans)
            time.sleep(0.05)

    started = time.monotonic()
    try:
        threads = [threading.Thread(target=soak.worker, args=(i,)) for i in range(THREADS)]
        collectors = [threading.Thread(target=collect) for _ in range(2)]
        for thread in threads + collectors:
            thread.start()
        for thread in threads:
            thread.join()
        stop.set()
        for thread in collectors:
            thread.join()
        elapsed = time.monotonic() - started
        Collector(engine, store, timedelta(0)).collect()  # one last, quiet collection
        with engine.connect() as conn:
            dangling = {k: int(conn.execute(text(q)).scalar() or 0) for k, q in DANGLING.items()}
            live = list(
                conn.execute(text("SELECT digest FROM blobs WHERE state = 'live'")).scalars()
            )
            known = set(conn.execute(text("SELECT digest FROM blobs")).scalars())
        lost = [d for d in live if store.stat(d) is None]
        # Bytes no row knows (a push refused mid-collection) went in the quiet collection.
        orphaned = [info.digest for info, _ in store.iter_blobs() if info.digest not in known]
        walk = consistency_walk(replicas[0].url)
    finally:
        for replica in replicas:
            replica.stop()
        engine.dispose()
    print(
        f"\nsoak: {soak.events} events (requests and collection attempts: "
        f"{collections['ran']} collections, {collections['lease held elsewhere']} lease refusals) "
        f"in {elapsed:.0f}s; dangling references {sum(dangling.values())}, "
        f"lost blobs {len(lost)}, orphaned bytes {len(orphaned)}; "
        f"outcomes {dict(soak.outcomes)}; collected {dict(collections)}"
    )
    assert soak.failures == [], (soak.failures[:20], [r.logs()[-4000:] for r in replicas])
    assert dangling == dict.fromkeys(DANGLING, 0)
    assert lost == [] and orphaned == []
    assert walk.problems == []
    assert soak.outcomes["manifest pushed"] > 0 and collections["blobs collected"] > 0
