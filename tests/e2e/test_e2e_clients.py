"""Real clients against a real ``cargohold serve`` (issue 2, section 4).

The pure OCI part runs with authentication off (``CARGOHOLD_AUTH_ENABLED=false``): skopeo
copies an OCI layout in and out with identical digests, podman pulls, tags and pushes, buildah
commits and pushes, a multi-arch index round-trips byte for byte, an ORAS artifact with a
subject (the Python ``oras`` package) is found through the referrers API, and skopeo deletes a
manifest. One test turns authentication on: podman, skopeo and buildah log in with a personal
access token and are refused with a bad one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import oras.client
import oras.oci
import pytest

from support.containers import containers_env
from support.e2e import (
    TLS_OFF,
    cli,
    http,
    manifest_status,
    run,
    secret_of,
    skopeo_inspect_raw,
    tags,
)
from support.oci_layout import (
    INDEX_MEDIA_TYPE,
    MANIFEST_MEDIA_TYPE,
    make_oci_index_layout,
    make_oci_layout,
    read_blob,
)
from support.server import ServerProcess

AUTH_OFF = {"CARGOHOLD_AUTH_ENABLED": "false"}
SIZE = 4096  # bytes of random data per layer: small images keep the folder fast


@pytest.fixture
def open_server(start_server: Callable[..., ServerProcess]) -> ServerProcess:
    """A server with authentication off: anyone may push and pull."""
    return start_server(env=AUTH_OFF)


@pytest.fixture
def env(tmp_path: Path, open_server: ServerProcess) -> dict[str, str]:
    """Client environment (private storage and config) pointing at ``open_server``."""
    return containers_env(tmp_path / "clients", open_server.host)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push_layout(
    skopeo: str,
    env: dict[str, str],
    server: ServerProcess,
    layout: Path,
    tag: str,
    name: str,
) -> None:
    """skopeo copy oci:LAYOUT:TAG -> docker://HOST/NAME:TAG, keeping every digest."""
    run(
        [
            skopeo,
            "copy",
            "--quiet",
            "--preserve-digests",
            "--dest-tls-verify=false",
            f"oci:{layout}:{tag}",
            f"docker://{server.host}/{name}:{tag}",
        ],
        env=env,
        server=server,
    )


def layout_index_digest(layout: Path, tag: str) -> str:
    """The digest the layout's index.json names for ``tag``."""
    index = json.loads((layout / "index.json").read_text())
    for entry in index["manifests"]:
        if entry.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            digest: str = entry["digest"]
            return digest
    raise AssertionError(f"tag {tag} not in {layout}/index.json: {index}")


def test_skopeo_copy_round_trip_keeps_digests(
    skopeo: str, env: dict[str, str], open_server: ServerProcess, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    digest = make_oci_layout(src, layers=2, size=SIZE, seed=1, tag="v1")
    push_layout(skopeo, env, open_server, src, "v1", "octo/app")

    raw = skopeo_inspect_raw(skopeo, env, f"{open_server.host}/octo/app:v1", server=open_server)
    assert raw == read_blob(src, digest), "the registry holds other manifest bytes"
    assert sha256(raw) == digest
    resp = http(
        "GET",
        f"{open_server.url}/v2/octo/app/manifests/v1",
        headers={"Accept": MANIFEST_MEDIA_TYPE},
    )
    assert resp.status == 200, resp.text
    assert resp.headers["Docker-Content-Digest"] == digest
    assert resp.body == raw

    dst = tmp_path / "dst"
    run(
        [
            skopeo,
            "copy",
            "--quiet",
            "--preserve-digests",
            "--src-tls-verify=false",
            f"docker://{open_server.host}/octo/app:v1",
            f"oci:{dst}:v1",
        ],
        env=env,
        server=open_server,
    )
    assert layout_index_digest(dst, "v1") == digest
    manifest = json.loads(read_blob(dst, digest))
    for descriptor in [manifest["config"], *manifest["layers"]]:
        assert read_blob(dst, descriptor["digest"]) == read_blob(src, descriptor["digest"])
    assert len(manifest["layers"]) == 2


def test_podman_pull_tag_push(
    skopeo: str,
    podman: str,
    env: dict[str, str],
    open_server: ServerProcess,
    tmp_path: Path,
) -> None:
    host = open_server.host
    make_oci_layout(tmp_path / "src", layers=2, size=SIZE, seed=2, tag="v1")
    push_layout(skopeo, env, open_server, tmp_path / "src", "v1", "octo/app")

    run([podman, "pull", "--quiet", TLS_OFF, f"{host}/octo/app:v1"], env=env, server=open_server)
    images = run([podman, "images", "--format", "{{.Repository}}:{{.Tag}}"], env=env)
    assert f"{host}/octo/app:v1" in images.stdout.split()

    run([podman, "tag", f"{host}/octo/app:v1", f"{host}/octo/copy:v2"], env=env)
    run([podman, "push", "--quiet", TLS_OFF, f"{host}/octo/copy:v2"], env=env, server=open_server)

    inspected = run(
        [skopeo, "inspect", TLS_OFF, f"docker://{host}/octo/copy:v2"], env=env, server=open_server
    )
    info = json.loads(inspected.stdout)
    assert info["Labels"] == {"seed": "2"}
    assert info["Architecture"] == "amd64"
    assert len(info["Layers"]) == 2
    assert tags(open_server, "octo/copy", None) == ["v2"]

    # And podman pulls back what it pushed, by the digest the registry answers.
    digest = http(
        "HEAD",
        f"{open_server.url}/v2/octo/copy/manifests/v2",
        headers={
            "Accept": f"{MANIFEST_MEDIA_TYPE}, application/vnd.docker.distribution.manifest.v2+json"
        },
    ).headers["Docker-Content-Digest"]
    run(
        [podman, "pull", "--quiet", TLS_OFF, f"{host}/octo/copy@{digest}"],
        env=env,
        server=open_server,
    )


def test_buildah_commit_and_push(
    skopeo: str,
    buildah: str,
    env: dict[str, str],
    open_server: ServerProcess,
    tmp_path: Path,
) -> None:
    host = open_server.host
    make_oci_layout(tmp_path / "src", layers=1, size=SIZE, seed=3, tag="base")
    push_layout(skopeo, env, open_server, tmp_path / "src", "base", "octo/base")

    # From an image buildah pulls from the registry, with a label added.
    container = run(
        [buildah, "from", "--quiet", TLS_OFF, f"docker://{host}/octo/base:base"],
        env=env,
        server=open_server,
    ).stdout.strip()
    run([buildah, "config", "--label", "built-by=buildah", container], env=env)
    run([buildah, "commit", "--quiet", container, "localhost/built:1"], env=env)
    run(
        [buildah, "push", "--quiet", TLS_OFF, "localhost/built:1", f"docker://{host}/octo/built:1"],
        env=env,
        server=open_server,
    )
    info = json.loads(
        run([skopeo, "inspect", TLS_OFF, f"docker://{host}/octo/built:1"], env=env).stdout
    )
    assert info["Labels"]["seed"] == "3"  # the base image's label survived
    assert info["Labels"]["built-by"] == "buildah"

    # From scratch.
    scratch = run([buildah, "from", "scratch"], env=env).stdout.strip()
    run([buildah, "config", "--label", "scratch=yes", scratch], env=env)
    run([buildah, "commit", "--quiet", scratch, "localhost/scratch:1"], env=env)
    run(
        [
            buildah,
            "push",
            "--quiet",
            TLS_OFF,
            "localhost/scratch:1",
            f"docker://{host}/octo/scratch:1",
        ],
        env=env,
        server=open_server,
    )
    info = json.loads(
        run([skopeo, "inspect", TLS_OFF, f"docker://{host}/octo/scratch:1"], env=env).stdout
    )
    assert info["Labels"]["scratch"] == "yes"


def test_multi_arch_index_round_trips_unchanged(
    skopeo: str, env: dict[str, str], open_server: ServerProcess, tmp_path: Path
) -> None:
    src = tmp_path / "multi"
    index_digest, children = make_oci_index_layout(src, layers=1, size=SIZE, seed=4, tag="1")
    index_bytes = read_blob(src, index_digest)
    run(
        [
            skopeo,
            "copy",
            "--quiet",
            "--all",
            "--preserve-digests",
            "--dest-tls-verify=false",
            f"oci:{src}:1",
            f"docker://{open_server.host}/octo/multi:1",
        ],
        env=env,
        server=open_server,
    )

    resp = http(
        "GET",
        f"{open_server.url}/v2/octo/multi/manifests/1",
        headers={"Accept": INDEX_MEDIA_TYPE},
    )
    assert resp.status == 200, resp.text
    assert resp.body == index_bytes, "the index changed on its way through the registry"
    assert resp.headers["Docker-Content-Digest"] == index_digest
    assert resp.headers["Content-Type"].split(";")[0] == INDEX_MEDIA_TYPE
    by_digest = http(
        "GET",
        f"{open_server.url}/v2/octo/multi/manifests/{index_digest}",
        headers={"Accept": INDEX_MEDIA_TYPE},
    )
    assert by_digest.status == 200 and by_digest.body == index_bytes
    for child in children:
        got = http(
            "GET",
            f"{open_server.url}/v2/octo/multi/manifests/{child}",
            headers={"Accept": MANIFEST_MEDIA_TYPE},
        )
        assert got.status == 200, got.text
        assert got.body == read_blob(src, child)

    dst = tmp_path / "back"
    run(
        [
            skopeo,
            "copy",
            "--quiet",
            "--all",
            "--preserve-digests",
            "--src-tls-verify=false",
            f"docker://{open_server.host}/octo/multi:1",
            f"oci:{dst}:1",
        ],
        env=env,
        server=open_server,
    )
    assert layout_index_digest(dst, "1") == index_digest
    assert read_blob(dst, index_digest) == index_bytes
    for child in children:
        assert read_blob(dst, child) == read_blob(src, child)


SBOM_TYPE = "application/vnd.example.sbom.v1+json"


def test_oras_artifact_with_subject_found_through_referrers(
    skopeo: str, env: dict[str, str], open_server: ServerProcess, tmp_path: Path
) -> None:
    host = open_server.host
    subject_digest = make_oci_layout(tmp_path / "src", layers=1, size=SIZE, seed=5, tag="v1")
    push_layout(skopeo, env, open_server, tmp_path / "src", "v1", "octo/app")
    subject_bytes = read_blob(tmp_path / "src", subject_digest)

    # An empty referrers answer first: an OCI index with no manifests (200, not 404).
    empty = http("GET", f"{open_server.url}/v2/octo/app/referrers/{subject_digest}")
    assert empty.status == 200, empty.text
    assert empty.json()["manifests"] == []

    sbom = tmp_path / "sbom.spdx.json"
    sbom.write_text(json.dumps({"spdxVersion": "SPDX-2.3", "name": "octo/app"}))
    config = tmp_path / "config.json"
    config.write_text("{}")
    client = oras.client.OrasClient(hostname=host, insecure=True)
    response = client.push(
        target=f"{host}/octo/app:sbom",
        files=[f"{sbom}:application/spdx+json"],
        manifest_config=f"{config}:{SBOM_TYPE}",
        manifest_annotations={"org.example.kind": "sbom"},
        subject=oras.oci.Subject(MANIFEST_MEDIA_TYPE, subject_digest, len(subject_bytes)),
        disable_path_validation=True,
        quiet=True,
    )
    assert response.status_code == 201, response.text
    assert response.headers.get("OCI-Subject") == subject_digest
    artifact_digest = response.headers["Docker-Content-Digest"]

    referrers = http("GET", f"{open_server.url}/v2/octo/app/referrers/{subject_digest}")
    assert referrers.status == 200, referrers.text
    assert referrers.headers["Content-Type"].split(";")[0] == INDEX_MEDIA_TYPE
    index = referrers.json()
    assert index["mediaType"] == INDEX_MEDIA_TYPE
    assert [m["digest"] for m in index["manifests"]] == [artifact_digest]
    (entry,) = index["manifests"]
    assert entry["mediaType"] == MANIFEST_MEDIA_TYPE
    assert entry["artifactType"] == SBOM_TYPE  # from config.mediaType (no artifactType field)
    assert entry.get("annotations", {}).get("org.example.kind") == "sbom"

    filtered = http(
        "GET",
        f"{open_server.url}/v2/octo/app/referrers/{subject_digest}?artifactType={quote(SBOM_TYPE)}",
    )
    assert filtered.status == 200
    assert filtered.headers.get("OCI-Filters-Applied") == "artifactType"
    assert [m["digest"] for m in filtered.json()["manifests"]] == [artifact_digest]
    other = http(
        "GET",
        f"{open_server.url}/v2/octo/app/referrers/{subject_digest}"
        "?artifactType=application/vnd.example.other",
    )
    assert other.status == 200 and other.json()["manifests"] == []

    # The artifact itself pulls back through oras.
    pulled = client.pull(target=f"{host}/octo/app:sbom", outdir=str(tmp_path / "pulled"))
    assert [Path(p).read_bytes() for p in pulled] == [sbom.read_bytes()]


def test_skopeo_delete_manifest(
    skopeo: str, env: dict[str, str], open_server: ServerProcess, tmp_path: Path
) -> None:
    host = open_server.host
    digest = make_oci_layout(tmp_path / "src", layers=1, size=SIZE, seed=6, tag="v1")
    push_layout(skopeo, env, open_server, tmp_path / "src", "v1", "octo/gone")
    assert manifest_status(open_server, "octo/gone", digest, None) == 200

    run([skopeo, "delete", TLS_OFF, f"docker://{host}/octo/gone:v1"], env=env, server=open_server)

    assert manifest_status(open_server, "octo/gone", digest, None) == 404
    assert manifest_status(open_server, "octo/gone", "v1", None) == 404
    assert "v1" not in tags(open_server, "octo/gone", None)
    failed = run([skopeo, "inspect", TLS_OFF, f"docker://{host}/octo/gone:v1"], env=env, ok=False)
    assert "manifest unknown" in failed.stderr.lower(), failed.stderr


def test_logins_with_a_personal_access_token(
    skopeo: str,
    podman: str,
    buildah: str,
    server: ServerProcess,
    client_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """Authentication on: every client logs in with a PAT, and is refused with a bad secret."""
    host = server.host
    cli(server, "user", "create", "bob")
    pat = secret_of(
        cli(server, "token", "create", "--user", "bob", "--scopes", "read:packages,write:packages")
    )
    assert pat.startswith("chp_")
    bad = "chp_" + "0" * (len(pat) - 4)

    for tool in (podman, skopeo, buildah):
        run(
            [tool, "login", TLS_OFF, "--username", "bob", "--password-stdin", host],
            env=client_env,
            input=pat + "\n",
            server=server,
        )
        refused = run(
            [tool, "login", TLS_OFF, "--username", "bob", "--password-stdin", host],
            env=client_env,
            input=bad + "\n",
            ok=False,
        )
        assert "invalid username/password" in refused.stderr, refused.stderr

    # The stored login is used: skopeo pushes to bob's namespace without --dest-creds.
    run(
        [skopeo, "login", TLS_OFF, "--username", "bob", "--password-stdin", host],
        env=client_env,
        input=pat + "\n",
    )
    make_oci_layout(tmp_path / "src", layers=1, size=SIZE, seed=7, tag="v1")
    push_layout(skopeo, client_env, server, tmp_path / "src", "v1", "bob/app")
    assert tags(server, "bob/app", pat) == ["v1"]
    # A wrong PAT on a pull is refused too (HTTP Basic straight on /v2/).
    resp = http("GET", f"{server.url}/v2/bob/app/tags/list", secret=bad)
    assert resp.status == 401
    assert resp.json()["errors"][0]["message"].startswith(
        "unauthenticated: User cannot be authenticated with the token provided."
    )
