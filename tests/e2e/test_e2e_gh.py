"""The real ``gh`` client against cargohold over TLS, as against GitHub Enterprise Server:
list the org's packages and versions with --paginate, delete and restore a version, add Actions
access; then a job of that repository can push."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.containers import in_ci
from support.e2e import basic, cli, secret_of
from support.tls import ThrowawayCA, TlsServerProcess


@pytest.fixture
def gh() -> str:
    path = shutil.which("gh")
    if path is None:
        message = "gh is not installed (scripts/install-test-deps.sh installs it)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[TlsServerProcess]:
    ca = ThrowawayCA.create(tmp_path / "tls")
    server = TlsServerProcess(ca)
    with server.start(tmp_path / "data"):
        yield server


def _request(server: TlsServerProcess, method: str, path: str, secret: str, data: bytes,
             content_type: str = "application/octet-stream") -> int:  # fmt: skip
    request = urllib.request.Request(
        server.url + path,
        data=data,
        method=method,
        headers={"Authorization": basic(secret), "Content-Type": content_type},
    )
    try:
        with urllib.request.urlopen(request, context=server.ca.client_context()) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def push(server: TlsServerProcess, name: str, tag: str, secret: str, seed: str) -> int:
    """Push a one-layer image over HTTPS with plain requests; returns the manifest PUT status."""
    blobs = [json.dumps({"architecture": "amd64", "os": "linux", "seed": seed}).encode(),
             f"layer {seed}".encode() * 50]  # fmt: skip
    digests = [f"sha256:{hashlib.sha256(b).hexdigest()}" for b in blobs]
    for blob, digest in zip(blobs, digests, strict=True):
        status = _request(server, "POST", f"/v2/{name}/blobs/uploads/?digest={digest}", secret,
                          blob)  # fmt: skip
        if status != 201:
            return status
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": digests[0], "size": len(blobs[0])},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": digests[1], "size": len(blobs[1])}],
    }).encode()  # fmt: skip
    return _request(server, "PUT", f"/v2/{name}/manifests/{tag}", secret, manifest,
                    "application/vnd.oci.image.manifest.v1+json")  # fmt: skip


def test_gh_api_lists_deletes_restores_and_grants(
    gh: str, tls_server: TlsServerProcess, tmp_path: Path
) -> None:
    server = tls_server
    cli(server, "user", "create", "alice")
    cli(server, "org", "create", "acme", "--owner", "alice")
    cli(server, "repo", "create", "acme/shop")
    cli(server, "repo", "create", "acme/api")
    scopes = "read:packages,write:packages,delete:packages"
    alice = secret_of(cli(server, "token", "create", "--user", "alice", "--scopes", scopes))
    for i in range(3):
        assert push(server, "acme/shop", f"v{i}", alice, str(i)) == 201
    assert push(server, "acme/web", "1", alice, "web") == 201

    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path / "home"),
        "GH_CONFIG_DIR": str(tmp_path / "gh-config"),
        "GH_HOST": server.host,
        "GH_ENTERPRISE_TOKEN": alice,
        "SSL_CERT_FILE": str(server.ca.ca_pem),
        "GH_PROMPT_DISABLED": "1",
        "GH_NO_UPDATE_NOTIFIER": "1",
        "NO_COLOR": "1",
    }

    def gh_api(*args: str) -> str:
        proc = subprocess.run([gh, "api", *args], env=env, capture_output=True, text=True,
                              timeout=60, check=False)  # fmt: skip
        assert proc.returncode == 0, f"gh api {' '.join(args)}:\n{proc.stderr}\n{proc.stdout}"
        return proc.stdout

    names = gh_api("/orgs/acme/packages?package_type=container&per_page=1", "--paginate",
                   "--jq", ".[].name").split()  # fmt: skip
    assert names == ["shop", "web"]
    versions = gh_api("/orgs/acme/packages/container/shop/versions?per_page=2", "--paginate",
                      "--jq", ".[] | [.id, .name, .metadata.container.tags[0]] | @tsv")  # fmt: skip
    rows = [line.split("\t") for line in versions.splitlines()]
    assert sorted(tag for _, _, tag in rows) == ["v0", "v1", "v2"]
    version_id = next(vid for vid, _, tag in rows if tag == "v1")

    gh_api("-X", "DELETE", f"/orgs/acme/packages/container/shop/versions/{version_id}")
    live = gh_api("/orgs/acme/packages/container/shop/versions", "--paginate",
                  "--jq", ".[].metadata.container.tags[]").split()  # fmt: skip
    assert sorted(live) == ["v0", "v2"]
    gh_api("-X", "POST", f"/orgs/acme/packages/container/shop/versions/{version_id}/restore")
    live = gh_api("/orgs/acme/packages/container/shop/versions", "--paginate",
                  "--jq", ".[].metadata.container.tags[]").split()  # fmt: skip
    assert sorted(live) == ["v0", "v1", "v2"]

    # A job of acme/api cannot push to acme/shop until it gets Actions access.
    job = secret_of(cli(server, "job-token", "create", "--repository", "acme/api",
                        "--permissions", "packages=write"))  # fmt: skip
    assert push(server, "acme/shop", "ci", job, "ci") == 403
    added = gh_api("-X", "POST", "/orgs/acme/packages/container/shop/actions-access",
                   "-f", "repository=acme/api", "-f", "role=write")  # fmt: skip
    assert json.loads(added)["actions_access"][0]["repository"] == "acme/api"
    assert push(server, "acme/shop", "ci", job, "ci") == 201
