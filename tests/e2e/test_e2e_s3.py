"""cargohold on S3 (issue 9, section 1): real ``cargohold serve`` processes on the SeaweedFS of
``scripts/test.sh``, which checks request signatures.

skopeo copies an image in and out with identical digests (layers larger than the part size, so
commits compose several segments), with blob GETs streamed from S3 and with ``storage_redirect``
answering 307 to a pre-signed URL; a chunked upload whose chunks alternate between two server
processes (same bucket prefix, same database) finishes with the right digest.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import uuid
from collections.abc import Callable
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlsplit

import obstore
import pytest

from support.containers import containers_env
from support.e2e import http, run
from support.oci_layout import make_oci_layout, read_blob
from support.s3 import s3_options
from support.server import ServerProcess

MIB = 1024 * 1024


def s3_env(prefix: str, *, redirect: bool = False) -> dict[str, str]:
    options = s3_options()
    return {
        "CARGOHOLD_AUTH_ENABLED": "false",
        "CARGOHOLD_STORAGE": "s3",
        "CARGOHOLD_S3_ENDPOINT": str(options["endpoint"]),
        "CARGOHOLD_S3_BUCKET": str(options["bucket"]),
        "CARGOHOLD_S3_PREFIX": prefix,
        "CARGOHOLD_S3_ACCESS_KEY_ID": str(options["access_key_id"]),
        "CARGOHOLD_S3_SECRET_ACCESS_KEY": str(options["secret_access_key"]),
        "CARGOHOLD_S3_PART_SIZE": str(5 * MIB),
        "CARGOHOLD_STORAGE_REDIRECT": "true" if redirect else "false",
    }


def bucket_keys(prefix: str) -> list[str]:
    options = s3_options()
    store = obstore.store.S3Store(
        str(options["bucket"]),
        endpoint=str(options["endpoint"]),
        access_key_id=str(options["access_key_id"]),
        secret_access_key=str(options["secret_access_key"]),
        region="us-east-1",
        virtual_hosted_style_request=False,
        client_options={"allow_http": True},
    )
    return [meta["path"] for batch in obstore.list(store, f"{prefix}/") for meta in batch]


def get_no_redirect(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    conn = HTTPConnection(parts.netloc, timeout=30)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request("GET", target, headers=headers)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


@pytest.mark.parametrize("redirect", [False, True], ids=["stream", "redirect"])
def test_skopeo_round_trip_on_s3(
    skopeo: str, start_server: Callable[..., ServerProcess], tmp_path: Path, redirect: bool
) -> None:
    prefix = f"e2e-{uuid.uuid4().hex[:12]}"
    server = start_server(env=s3_env(prefix, redirect=redirect))
    ready = http("GET", f"{server.url}/readyz")
    assert (ready.status, ready.json()["checks"]) == (200, {"database": "ok", "storage": "ok"})
    env = containers_env(tmp_path / "clients", server.host)
    src = tmp_path / "src"
    digest = make_oci_layout(src, layers=2, size=12 * MIB, seed=7, tag="v1")
    run(
        [skopeo, "copy", "--quiet", "--preserve-digests", "--dest-tls-verify=false",
         f"oci:{src}:v1", f"docker://{server.host}/octo/app:v1"],
        env=env, server=server,
    )  # fmt: skip
    dst = tmp_path / "dst"
    run(
        [skopeo, "copy", "--quiet", "--preserve-digests", "--src-tls-verify=false",
         f"docker://{server.host}/octo/app:v1", f"oci:{dst}:v1"],
        env=env, server=server,
    )  # fmt: skip
    index = json.loads((dst / "index.json").read_text())
    assert [m["digest"] for m in index["manifests"]] == [digest]
    manifest = json.loads(read_blob(dst, digest))
    for descriptor in [manifest["config"], *manifest["layers"]]:
        assert read_blob(dst, descriptor["digest"]) == read_blob(src, descriptor["digest"])
    assert all(d["size"] > 5 * MIB for d in manifest["layers"])  # several segments each

    keys = bucket_keys(prefix)
    stored = {k.rsplit("/", 1)[1] for k in keys if f"{prefix}/blobs/sha256/" in k}
    for descriptor in [manifest["config"], *manifest["layers"]]:
        assert descriptor["digest"].split(":")[1] in stored
    assert [k for k in keys if "/uploads/" in k] == []  # every upload cleaned up

    layer = manifest["layers"][0]["digest"]
    url = f"{server.url}/v2/octo/app/blobs/{layer}"
    status, headers, body = get_no_redirect(url, {"Range": "bytes=100-1123"})
    expected = read_blob(src, layer)[100:1124]
    if redirect:
        assert status == 307
        location = headers["Location"]
        assert "X-Amz-Signature=" in location
        status, _, body = get_no_redirect(location, {"Range": "bytes=100-1123"})
    assert (status, body) == (206, expected)


def test_chunked_upload_alternating_between_two_servers_on_s3(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    prefix = f"e2e-{uuid.uuid4().hex[:12]}"
    env = s3_env(prefix)
    shared = tmp_path / "shared"  # one SQLite database for both processes
    servers = [start_server(env=env, data_dir=shared), start_server(env=env, data_dir=shared)]
    blob = hashlib.sha256(b"seed").digest() * (13 * MIB // 32) + b"tail"
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()

    resp = http("POST", f"{servers[0].url}/v2/acme/big/blobs/uploads/")
    assert resp.status == 202, resp.text
    location = resp.headers["Location"]
    # Chunks of 3 MiB (under S3's 5 MiB part minimum) and one odd size, each to the other server.
    cuts = [0, 3 * MIB, 6 * MIB, 6 * MIB + 12345, 10 * MIB, len(blob)]
    for number, (start, end) in enumerate(itertools.pairwise(cuts)):
        server = servers[number % 2]
        resp = http(
            "PATCH",
            f"{server.url}{location}",
            data=blob[start:end],
            headers={
                "Content-Range": f"{start}-{end - 1}",
                "Content-Type": "application/octet-stream",
            },
        )
        assert resp.status == 202, resp.text
        assert resp.headers["Range"] == f"0-{end - 1}"
    resp = http("PUT", f"{servers[1].url}{location}?digest={digest}")
    assert resp.status == 201, resp.text
    for server in servers:
        resp = http("GET", f"{server.url}/v2/acme/big/blobs/{digest}")
        assert resp.status == 200
        assert hashlib.sha256(resp.body).hexdigest() == digest.split(":")[1]
    assert [k for k in bucket_keys(prefix) if "/uploads/" in k] == []
