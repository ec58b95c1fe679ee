"""What a package page shows of each version: platforms, layers, sizes, labels, annotations and
the artifacts attached to it (``read_model.VersionDetail``).

The versions shown are the package's live manifests (``read_queries.version_rows``) except
attached artifacts (listed under their subject) and untagged platform manifests of an index
(listed under the index), newest first, at most ``MAX_VERSIONS``. Labels come from the image
config blob (read from the blob store, at most ``CONFIG_LIMIT`` bytes); annotations from the
manifest. A manifest or config that does not parse shows as having none of them.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, select

from cargohold.db import schema as s
from cargohold.db.tx import aware
from cargohold.registry.read_model import (
    INDEX_TYPES,
    Artifact,
    Layer,
    Platform,
    VersionDetail,
    VersionView,
)
from cargohold.registry.read_queries import AnyRow, tags_by_digest, to_version, version_rows
from cargohold.storage.protocol import BlobStore

CONFIG_LIMIT = 1024 * 1024
MAX_VERSIONS = 100


def version_details(
    conn: Connection, store: BlobStore, package_id: int
) -> tuple[VersionDetail, ...]:
    """The package page's versions (see the module docstring)."""
    r = s.manifest_refs.c
    rows = version_rows(conn, package_id, content=True)
    tags = tags_by_digest(conn, package_id)
    children = {
        x.child_digest
        for x in conn.execute(
            select(r.child_digest).where(r.package_id == package_id, r.kind == "manifest")
        )
    }
    blob_sizes: dict[str, int] = {
        row.digest: row.size
        for row in conn.execute(
            select(s.blobs.c.digest, s.blobs.c.size)
            .join_from(s.package_blobs, s.blobs, s.blobs.c.digest == s.package_blobs.c.digest)
            .where(s.package_blobs.c.package_id == package_id)
        )
    }
    attached: dict[str, list[Artifact]] = {}
    for row in rows:
        if row.subject_digest:
            attached.setdefault(row.subject_digest, []).append(
                Artifact(
                    digest=row.digest,
                    artifact_type=row.artifact_type or _artifact_type(row.content),
                    created=aware(row.created_at),
                    annotations=_pairs(_json(row.annotations)),
                )
            )
    shown = [
        row
        for row in rows
        if not row.subject_digest and (row.digest not in children or row.digest in tags)
    ][:MAX_VERSIONS]
    details = _Details(store, {row.digest: row for row in rows}, blob_sizes, attached)
    return tuple(details.of(to_version(row, tags), row) for row in shown)


class _Details:
    """One package's manifests, blob sizes and attached artifacts, to describe its versions."""

    def __init__(
        self,
        store: BlobStore,
        by_digest: dict[str, AnyRow],
        blob_sizes: dict[str, int],
        attached: dict[str, list[Artifact]],
    ) -> None:
        self._store = store
        self._by_digest = by_digest
        self._blob_sizes = blob_sizes
        self._attached = attached

    def of(self, version: VersionView, row: AnyRow) -> VersionDetail:
        doc = _json(row.content)
        annotations = _pairs(doc.get("annotations"))
        artifacts = tuple(self._attached.get(row.digest, ()))
        if row.media_type in INDEX_TYPES:
            platforms = []
            total = int(row.size)
            for entry in doc.get("manifests") or []:
                if not isinstance(entry, dict):
                    continue
                found = entry.get("platform")
                plat: dict[str, Any] = found if isinstance(found, dict) else {}
                digest = str(entry.get("digest", ""))
                child = self._by_digest.get(digest)
                size = self._image_size(child) if child is not None else 0
                total += size
                platforms.append(
                    Platform(
                        digest=digest,
                        os=str(plat.get("os", "")),
                        architecture=str(plat.get("architecture", "")),
                        variant=str(plat.get("variant", "")),
                        size=size,
                    )
                )
                artifacts += tuple(self._attached.get(digest, ()))
            return VersionDetail(
                version, total, platforms=tuple(platforms), annotations=annotations,
                artifacts=artifacts,
            )  # fmt: skip
        layers = tuple(
            Layer(str(x.get("digest", "")), _int(x.get("size")), str(x.get("mediaType", "")))
            for x in doc.get("layers") or []
            if isinstance(x, dict)
        )
        found = doc.get("config")
        config: dict[str, Any] = found if isinstance(found, dict) else {}
        return VersionDetail(
            version, self._image_size(row), layers=layers, annotations=annotations,
            labels=self._labels(str(config.get("digest", ""))), artifacts=artifacts,
        )  # fmt: skip

    def _image_size(self, row: AnyRow) -> int:
        doc = _json(row.content)
        total = int(row.size)
        config = doc.get("config")
        if isinstance(config, dict):
            total += _int(config.get("size"))
        for layer in doc.get("layers") or []:
            if isinstance(layer, dict):
                total += self._blob_sizes.get(str(layer.get("digest")), _int(layer.get("size")))
        return total

    def _labels(self, digest: str) -> tuple[tuple[str, str], ...]:
        """The image config's ``config.Labels`` (empty when absent, unreadable or too big)."""
        if not digest:
            return ()
        info = self._store.stat(digest)
        if info is None or info.size > CONFIG_LIMIT:
            return ()
        try:
            data = b"".join(self._store.open_read(digest))
        except (OSError, KeyError):
            return ()
        config = _json(data).get("config")
        return _pairs(config.get("Labels")) if isinstance(config, dict) else ()


def _artifact_type(content: bytes) -> str:
    doc = _json(content)
    config = doc.get("config")
    if isinstance(config, dict) and config.get("mediaType"):
        return str(config["mediaType"])
    return str(doc.get("mediaType", ""))


def _json(data: bytes | str | None) -> dict[str, Any]:
    if not data:
        return {}
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def _pairs(value: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        return ()
    return tuple(sorted((str(k), str(v)) for k, v in value.items()))


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
