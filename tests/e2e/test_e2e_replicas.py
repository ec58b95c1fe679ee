"""Two server processes on one data directory act as replicas (issue 2, section 3).

An upload opened on one process is continued and finished on the other; a grant made through
the CLI while both run applies to both on their next request. Nothing that matters lives in a
process.
"""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from support.e2e import admin_token
from support.server import ServerProcess, run_cli


def _call(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_upload_moves_between_processes(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    data = tmp_path / "shared"
    env = {"CARGOHOLD_AUTH_ENABLED": "false"}
    first = start_server(env=env, data_dir=data)
    second = start_server(env=env, data_dir=data)
    status, headers, _ = _call(f"{first.url}/v2/acme/app/blobs/uploads/", "POST")
    assert status == 202
    location = headers["Location"]
    status, headers, _ = _call(
        f"{first.url}{location}", "PATCH", b"half one, ", {"Content-Range": "0-9"}
    )
    assert status == 202
    status, headers, _ = _call(f"{second.url}{location}")
    assert (status, headers["Range"]) == (204, "0-9")
    blob = b"half one, half two"
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    status, _, _ = _call(f"{second.url}{location}?digest={digest}", "PUT", b"half two")
    assert status == 201
    status, _, body = _call(f"{first.url}/v2/acme/app/blobs/{digest}")
    assert (status, body) == (200, blob)


def test_grant_through_cli_applies_to_every_process(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    data = tmp_path / "shared"
    first = start_server(data_dir=data)
    second = start_server(data_dir=data)
    admin = admin_token(first)
    for args in (["user", "create", "bob"], ["org", "create", "acme", "--owner", "admin"]):
        assert run_cli(*args, data_dir=data).returncode == 0
    bob = run_cli(
        "token", "create", "--user", "bob", "--scopes", "read:packages", data_dir=data
    ).stdout.strip()

    def auth(user: str, secret: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}

    config = b"{}"
    digest = "sha256:" + hashlib.sha256(config).hexdigest()
    status, _, _ = _call(
        f"{first.url}/v2/acme/app/blobs/uploads/?digest={digest}", "POST", config, auth("a", admin)
    )
    assert status == 201
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": digest,
                "size": 2,
            },
            "layers": [],
        }
    ).encode()
    headers = {**auth("a", admin), "Content-Type": "application/vnd.oci.image.manifest.v1+json"}
    assert _call(f"{second.url}/v2/acme/app/manifests/v1", "PUT", manifest, headers)[0] == 201
    for server in (first, second):
        assert _call(f"{server.url}/v2/acme/app/manifests/v1", headers=auth("b", bob))[0] == 403
    grant = ["package", "access", "add", "acme/app", "--user", "bob", "--role", "read"]
    assert run_cli(*grant, data_dir=data).returncode == 0
    for server in (first, second):
        assert _call(f"{server.url}/v2/acme/app/manifests/v1", headers=auth("b", bob))[0] == 200
