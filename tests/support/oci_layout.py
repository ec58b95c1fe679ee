"""Build a small OCI image layout on disk, in pure Python.

The layout is what ``skopeo copy oci:PATH:TAG docker://...`` reads:

    PATH/
      oci-layout                 {"imageLayoutVersion": "1.0.0"}
      index.json                 one manifest (or, for make_oci_index_layout, one image
                                 index), annotated with the tag
      blobs/sha256/<hex>         configs, manifests, the image index and gzip layers

Everything is deterministic in ``seed`` (tar and gzip timestamps are zero), so the same
arguments give the same manifest digest, and copying with ``--preserve-digests`` keeps it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
REF_NAME = "org.opencontainers.image.ref.name"


def _write_blob(root: Path, data: bytes) -> dict[str, Any]:
    hexdigest = hashlib.sha256(data).hexdigest()
    (root / "blobs" / "sha256" / hexdigest).write_bytes(data)
    return {"digest": f"sha256:{hexdigest}", "size": len(data)}


def _layer(rng: random.Random, index: int, size: int) -> tuple[bytes, str]:
    """A gzip tar holding one file of ``size`` random bytes; returns (blob, diff_id)."""
    content = rng.randbytes(size)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(f"layer{index}/data.bin")
        info.size = size
        info.mode = 0o644
        info.mtime = 0
        tar.addfile(info, io.BytesIO(content))
    uncompressed = raw.getvalue()
    compressed = gzip.compress(uncompressed, compresslevel=1, mtime=0)
    return compressed, "sha256:" + hashlib.sha256(uncompressed).hexdigest()


def _canonical(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def _image(
    root: Path, rng: random.Random, *, layers: int, size: int, seed: int, arch: str, os_: str
) -> dict[str, Any]:
    """Write one image (gzip layers, config, manifest) into ``root``; return its descriptor."""
    layer_descriptors: list[dict[str, Any]] = []
    diff_ids: list[str] = []
    for i in range(layers):
        blob, diff_id = _layer(rng, i, size)
        layer_descriptors.append({"mediaType": LAYER_MEDIA_TYPE, **_write_blob(root, blob)})
        diff_ids.append(diff_id)

    config = {
        "architecture": arch,
        "os": os_,
        "created": "1970-01-01T00:00:00Z",
        "config": {"Labels": {"seed": str(seed)}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [
            {"created": "1970-01-01T00:00:00Z", "created_by": f"layer {i}"} for i in range(layers)
        ],
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {"mediaType": CONFIG_MEDIA_TYPE, **_write_blob(root, _canonical(config))},
        "layers": layer_descriptors,
    }
    return {
        "mediaType": MANIFEST_MEDIA_TYPE,
        **_write_blob(root, _canonical(manifest)),
        "platform": {"architecture": arch, "os": os_},
    }


def _finish(root: Path, descriptor: dict[str, Any], tag: str) -> str:
    entry = {**descriptor, "annotations": {REF_NAME: tag}}
    index = {"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": [entry]}
    (root / "index.json").write_bytes(_canonical(index))
    (root / "oci-layout").write_bytes(_canonical({"imageLayoutVersion": "1.0.0"}))
    digest: str = descriptor["digest"]
    return digest


def make_oci_layout(
    path: str | os.PathLike[str],
    *,
    layers: int,
    size: int,
    seed: int,
    tag: str = "latest",
) -> str:
    """Write an OCI layout with one linux/amd64 image at ``path``; return its manifest digest.

    ``layers`` gzip layers each hold one file of ``size`` random bytes (from ``seed``).
    An existing layout at ``path`` is replaced. The image is tagged ``tag``.
    """
    root = Path(path)
    (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    image = _image(root, rng, layers=layers, size=size, seed=seed, arch="amd64", os_="linux")
    return _finish(root, image, tag)


def make_oci_index_layout(
    path: str | os.PathLike[str],
    *,
    platforms: Sequence[tuple[str, str]] = (("linux", "amd64"), ("linux", "arm64")),
    layers: int,
    size: int,
    seed: int,
    tag: str = "latest",
) -> tuple[str, list[str]]:
    """Write an OCI layout holding a multi-platform image index tagged ``tag`` at ``path``.

    One image per ``(os, architecture)`` of ``platforms``, each with its own random gzip
    layers. Returns ``(index digest, [manifest digest per platform])``; the index bytes are
    ``blobs/sha256/<index hex>`` in the layout.
    """
    root = Path(path)
    (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    images = [
        _image(root, rng, layers=layers, size=size, seed=seed, arch=arch, os_=os_)
        for os_, arch in platforms
    ]
    index = {"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": images}
    descriptor = {"mediaType": INDEX_MEDIA_TYPE, **_write_blob(root, _canonical(index))}
    return _finish(root, descriptor, tag), [image["digest"] for image in images]


def read_blob(path: str | os.PathLike[str], digest: str) -> bytes:
    """The bytes of blob ``digest`` in the OCI layout at ``path``."""
    algorithm, _, hexdigest = digest.partition(":")
    return (Path(path) / "blobs" / algorithm / hexdigest).read_bytes()
