"""Helpers for functional tests that drive the aiohttp app in-process."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import text

from cargohold.accounts import credentials, service
from cargohold.db import tx
from cargohold.services import Services
from cargohold.settings import Settings, load_settings

ALL_SCOPES = frozenset(credentials.PAT_SCOPES)


@dataclasses.dataclass
class Registry:
    client: TestClient[Any, Any]
    services: Services

    def db(self, fn: Any) -> Any:
        with tx.write(self.services.engine) as conn:
            return fn(conn)

    def user(
        self, login: str, *, site_admin: bool = False, scopes: frozenset[str] = ALL_SCOPES
    ) -> dict[str, str]:
        """Create a user and a PAT; returns Basic-auth headers for it."""
        keys = self.services.keys

        def make(conn: Any) -> str:
            uid = service.create_account(conn, login, "user", site_admin=site_admin)
            return credentials.create_pat(conn, keys, uid, scopes, None)[1]

        return basic(login, self.db(make))

    def blob_files(self) -> set[str]:
        root = Path(self.services.settings.blob_root) / "blobs"
        return {str(p) for p in root.rglob("*") if p.is_file()} if root.exists() else set()

    def upload_files(self) -> set[str]:
        root = Path(self.services.settings.blob_root) / "uploads"
        return {str(p) for p in root.rglob("*") if p.is_file()} if root.exists() else set()

    def count(self, table: str) -> int:
        return int(self.db(lambda c: c.execute(text(f"SELECT count(*) FROM {table}")).scalar()))


def basic(user: str, secret: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def settings_for(tmp_path: Path, db_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": str(tmp_path / "data"),
        "database_url": db_url,
        "listen": "127.0.0.1:5000",
    }
    values.update(overrides)
    return load_settings(values, environ={})


def manifest_for(config: bytes, layers: list[bytes], **extra: Any) -> bytes:
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": digest_of(config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": digest_of(layer),
                "size": len(layer),
            }
            for layer in layers
        ],
    }
    doc.update(extra)
    return json.dumps(doc).encode()


async def push_blob(
    client: TestClient[Any, Any], name: str, data: bytes, headers: dict[str, str] | None = None
) -> str:
    digest = digest_of(data)
    resp = await client.post(
        f"/v2/{name}/blobs/uploads/?digest={digest}", data=data, headers=headers or {}
    )
    assert resp.status == 201, await resp.text()
    return digest


async def push_image(
    client: TestClient[Any, Any],
    name: str,
    tag: str,
    *,
    seed: bytes = b"x",
    headers: dict[str, str] | None = None,
    config: bytes | None = None,
) -> tuple[str, bytes]:
    """Push config + one layer + manifest; returns (manifest digest, manifest bytes)."""
    h = headers or {}
    config = config or b'{"architecture":"amd64","os":"linux","seed":"' + seed + b'"}'
    layer = b"layer-" + seed * 100
    await push_blob(client, name, config, h)
    await push_blob(client, name, layer, h)
    body = manifest_for(config, [layer])
    resp = await client.put(
        f"/v2/{name}/manifests/{tag}",
        data=body,
        headers={**h, "Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert resp.status == 201, await resp.text()
    return resp.headers["Docker-Content-Digest"], body
