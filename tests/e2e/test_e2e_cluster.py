"""Stateless replicas behind a real load balancer (issue 9, section 2).

One cluster for the module: its own PostgreSQL and SeaweedFS, three ``cargohold serve`` replicas
on them (storage=s3, shared database) and HAProxy round robin in front, health-checking
``/readyz``. skopeo, podman and buildah push and pull through HAProxy; then the faults: a replica
killed (-9) in the middle of a chunk, a replica killed during a manifest PUT, PostgreSQL restarted
under load, SeaweedFS down and back. After each, the consistency walk (tests/support/cluster.py)
finds every tag resolving and every referenced blob readable with its digest.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from http.client import HTTPConnection
from pathlib import Path

import pytest

from support.cluster import Cluster, consistency_walk
from support.containers import containers_env, require_tool
from support.e2e import Response, http, run
from support.oci_layout import make_oci_layout, read_blob

MIB = 1024 * 1024
TLS_OFF = "--tls-verify=false"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    require_tool("haproxy")
    with Cluster(tmp_path_factory.mktemp("cluster")) as made:
        made.start(replicas=3)
        yield made


def assert_consistent(cluster: Cluster) -> None:
    walk = consistency_walk(cluster.url)
    assert walk.problems == [], walk.problems
    assert walk.repositories >= 1


def header(resp: Response, name: str) -> str | None:
    """A response header by name, any case (HAProxy lowercases the names it forwards)."""
    return {k.lower(): v for k, v in resp.headers.items()}.get(name.lower())


def blob_of(size: int, seed: bytes) -> tuple[bytes, str]:
    block = hashlib.sha256(seed).digest()
    data = (block * (size // len(block) + 1))[:size]
    return data, "sha256:" + hashlib.sha256(data).hexdigest()


def push_blob(url: str, name: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    resp = http("POST", f"{url}/v2/{name}/blobs/uploads/?digest={digest}", data=data)
    assert resp.status == 201, resp.text
    return digest


def image_manifest(config: bytes, layers: list[bytes]) -> bytes:
    def desc(media: str, data: bytes) -> dict[str, object]:
        return {
            "mediaType": media,
            "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
            "size": len(data),
        }

    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": desc("application/vnd.oci.image.config.v1+json", config),
            "layers": [desc("application/vnd.oci.image.layer.v1.tar", d) for d in layers],
        }
    ).encode()


def put_manifest(url: str, name: str, tag: str, body: bytes) -> Response:
    return http(
        "PUT",
        f"{url}/v2/{name}/manifests/{tag}",
        data=body,
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    )


def test_clients_push_and_pull_through_haproxy(cluster: Cluster, tmp_path: Path) -> None:
    skopeo, podman, buildah = (require_tool(t) for t in ("skopeo", "podman", "buildah"))
    host = cluster.host
    env = containers_env(tmp_path / "clients", host)
    before = cluster.requests_per_replica()
    src = tmp_path / "src"
    digest = make_oci_layout(src, layers=2, size=7 * MIB, seed=11, tag="v1")
    run(
        [skopeo, "copy", "--quiet", "--preserve-digests", "--dest-tls-verify=false",
         f"oci:{src}:v1", f"docker://{host}/acme/app:v1"],
        env=env,
    )  # fmt: skip
    dst = tmp_path / "dst"
    run(
        [skopeo, "copy", "--quiet", "--preserve-digests", "--src-tls-verify=false",
         f"docker://{host}/acme/app:v1", f"oci:{dst}:v1"],
        env=env,
    )  # fmt: skip
    assert [m["digest"] for m in json.loads((dst / "index.json").read_text())["manifests"]] == [
        digest
    ]
    manifest = json.loads(read_blob(dst, digest))
    for layer in manifest["layers"]:
        assert read_blob(dst, layer["digest"]) == read_blob(src, layer["digest"])

    run([podman, "pull", "--quiet", TLS_OFF, f"{host}/acme/app:v1"], env=env)
    run([podman, "tag", f"{host}/acme/app:v1", f"{host}/acme/podman:v1"], env=env)
    run([podman, "push", "--quiet", TLS_OFF, f"{host}/acme/podman:v1"], env=env)

    container = run([buildah, "from", "--quiet", TLS_OFF, f"docker://{host}/acme/app:v1"], env=env)
    name = container.stdout.strip()
    run([buildah, "config", "--label", "built-by=buildah", name], env=env)
    run([buildah, "commit", "--quiet", name, "localhost/built:1"], env=env)
    run(
        [buildah, "push", "--quiet", TLS_OFF, "localhost/built:1", f"docker://{host}/acme/built:1"],
        env=env,
    )
    after = cluster.requests_per_replica()
    served = {server: after[server] - before.get(server, 0) for server in after}
    assert len(served) == 3 and all(count > 0 for count in served.values()), served
    assert_consistent(cluster)


def _patch_and_die(replica_url: str, location: str, chunk: bytes, start: int) -> HTTPConnection:
    """Send a PATCH's headers and half its body to one replica (the caller then kills it and
    closes the returned connection)."""
    host = replica_url.removeprefix("http://")
    conn = HTTPConnection(host, timeout=30)
    conn.putrequest("PATCH", location)
    conn.putheader("Content-Type", "application/octet-stream")
    conn.putheader("Content-Length", str(len(chunk)))
    conn.putheader("Content-Range", f"{start}-{start + len(chunk) - 1}")
    conn.endheaders()
    conn.send(chunk[: len(chunk) // 2])
    time.sleep(0.5)  # let the replica take the claim and stream what it got
    return conn


def test_replica_killed_mid_chunk_the_retry_on_another_replica_succeeds(
    cluster: Cluster,
) -> None:
    data, digest = blob_of(12 * MIB + 777, b"chunked")
    a, b, c = cluster.replicas
    resp = http("POST", f"{a.url}/v2/acme/chunked/blobs/uploads/")
    assert resp.status == 202, resp.text
    location = header(resp, "Location") or ""
    first = data[: 4 * MIB]
    resp = http("PATCH", f"{a.url}{location}", data=first)
    assert resp.status == 202, resp.text
    second = data[4 * MIB : 9 * MIB]
    half_sent = _patch_and_die(b.url, location, second, 4 * MIB)
    assert b.proc is not None
    os.kill(b.proc.pid, signal.SIGKILL)
    b.proc.wait()
    half_sent.close()
    # The client retries the chunk on another replica: 416 (with the size) while the dead
    # replica's claim lasts, then accepted.
    deadline = time.monotonic() + 120
    while True:
        status = http("GET", f"{c.url}{location}")
        assert status.status == 204, status.text
        assert header(status, "Range") == f"0-{4 * MIB - 1}"  # nothing of the dead chunk counts
        resp = http(
            "PATCH",
            f"{c.url}{location}",
            data=second,
            headers={"Content-Range": f"{4 * MIB}-{9 * MIB - 1}"},
        )
        if resp.status == 202:
            break
        assert resp.status == 416, resp.text
        assert time.monotonic() < deadline, "the dead replica's claim never expired"
        time.sleep(2)
    resp = http("PUT", f"{cluster.url}{location}&digest={digest}" if "?" in location
                else f"{cluster.url}{location}?digest={digest}", data=data[9 * MIB :])  # fmt: skip
    assert resp.status == 201, resp.text
    got = http("GET", f"{cluster.url}/v2/acme/chunked/blobs/{digest}")
    assert got.status == 200 and hashlib.sha256(got.body).hexdigest() == digest.split(":")[1]
    cluster.start_replica(1)
    cluster_wait_up(cluster)
    assert_consistent(cluster)


def cluster_wait_up(cluster: Cluster, count: int = 3) -> None:
    deadline = time.monotonic() + 60
    while cluster.up_replicas() < count:
        assert time.monotonic() < deadline, "replicas did not come back up"
        time.sleep(0.3)


def test_replica_killed_during_manifest_put_leaves_all_or_nothing(cluster: Cluster) -> None:
    config, layer = b'{"architecture":"amd64","os":"linux"}', blob_of(64 * 1024, b"m")[0]
    for data in (config, layer):
        push_blob(cluster.url, "acme/killed", data)
    body = image_manifest(config, [layer])
    victim = cluster.replicas[2]
    # Headers and half the body, then kill -9: the tag must not exist.
    host = victim.url.removeprefix("http://")
    conn = HTTPConnection(host, timeout=30)
    conn.putrequest("PUT", "/v2/acme/killed/manifests/half")
    conn.putheader("Content-Type", "application/vnd.oci.image.manifest.v1+json")
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders()
    conn.send(body[: len(body) // 2])
    time.sleep(0.3)
    assert victim.proc is not None
    os.kill(victim.proc.pid, signal.SIGKILL)
    victim.proc.wait()
    conn.close()
    assert http("GET", f"{cluster.url}/v2/acme/killed/manifests/half").status == 404
    # A whole PUT with the kill racing its transaction: either outcome, never a torn one.
    cluster.start_replica(2)
    victim = cluster.replicas[2]
    conn = HTTPConnection(victim.url.removeprefix("http://"), timeout=30)
    conn.request(
        "PUT",
        "/v2/acme/killed/manifests/raced",
        body=body,
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert victim.proc is not None
    os.kill(victim.proc.pid, signal.SIGKILL)
    victim.proc.wait()
    conn.close()
    got = http(
        "GET",
        f"{cluster.url}/v2/acme/killed/manifests/raced",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert got.status in (200, 404), got.text
    if got.status == 200:
        assert got.body == body
    cluster.start_replica(2)
    cluster_wait_up(cluster)
    assert_consistent(cluster)


class Load:
    """Pulls and small pushes through HAProxy on a thread, recording every status."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.statuses: list[tuple[int, str | None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)

    def _run(self) -> None:
        url, n = self.cluster.url, 0
        while not self._stop.is_set():
            n += 1
            data = b"load %d" % n
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            push = http(
                "POST", f"{url}/v2/acme/load/blobs/uploads/?digest={digest}", data=data, timeout=60
            )
            pull = http("GET", f"{url}/v2/acme/load/blobs/{digest}", timeout=60)
            if push.status == 201:  # what was pushed reads back (unless the outage began)
                assert pull.status in (200, 503), pull.status
            for resp in (push, pull) if push.status == 201 else (push,):
                self.statuses.append((resp.status, header(resp, "Retry-After")))
            time.sleep(0.05)


def _pids(cluster: Cluster) -> list[int]:
    return [r.proc.pid for r in cluster.replicas if r.proc is not None]


def test_postgres_restart_under_load_is_503_then_recovers(cluster: Cluster) -> None:
    pids = _pids(cluster)
    with Load(cluster) as load:
        time.sleep(1)
        cluster.stop_postgres()
        time.sleep(3)
        cluster.resume_postgres()
        deadline = time.monotonic() + 60
        while True:  # recovered: the last few requests all succeeded
            tail = load.statuses[-6:]
            if len(tail) == 6 and all(status in (200, 201) for status, _ in tail):
                break
            assert time.monotonic() < deadline, load.statuses[-20:]
            time.sleep(0.5)
    statuses = load.statuses
    assert all(status in (200, 201, 503) for status, _ in statuses), statuses
    unavailable = [retry for status, retry in statuses if status == 503]
    assert unavailable, "the load never met the outage"
    assert all(retry == "5" for retry in unavailable), statuses
    assert _pids(cluster) == pids and all(
        r.proc and r.proc.poll() is None for r in cluster.replicas
    )
    assert_consistent(cluster)


def test_s3_down_is_503_with_nothing_half_written_then_works(cluster: Cluster) -> None:
    data, digest = blob_of(3 * MIB, b"during the outage")
    direct = cluster.replicas[0]
    cluster.stop_s3()
    try:
        resp = http(
            "POST", f"{direct.url}/v2/acme/s3down/blobs/uploads/?digest={digest}", data=data
        )
        assert resp.status == 503 and header(resp, "Retry-After") == "5", resp.text
        assert resp.json()["errors"][0]["detail"] == {"component": "storage"}
        ready = http("GET", f"{direct.url}/readyz")
        assert ready.status == 503 and ready.json()["checks"]["storage"] == "unavailable"
        through = http("POST", f"{cluster.url}/v2/acme/s3down/blobs/uploads/?digest={digest}",
                       data=data)  # fmt: skip
        assert through.status == 503 and header(through, "Retry-After") == "5"
    finally:
        cluster.start_s3()
    cluster_wait_up(cluster)
    # Nothing half-written: the blob is unknown, the repository has no upload left behind.
    assert http("HEAD", f"{cluster.url}/v2/acme/s3down/blobs/{digest}").status == 404
    assert push_blob(cluster.url, "acme/s3down", data) == digest
    config = b'{"architecture":"amd64","os":"linux","s3":"back"}'
    push_blob(cluster.url, "acme/s3down", config)
    assert (
        put_manifest(cluster.url, "acme/s3down", "v1", image_manifest(config, [data])).status == 201
    )
    assert_consistent(cluster)
