"""Helpers shared by the storage tests (a plain module: test files cannot import conftest)."""

from __future__ import annotations

import hashlib

from cargohold.storage import BlobStore


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sha512(data: bytes) -> str:
    return "sha512:" + hashlib.sha512(data).hexdigest()


def push(store: BlobStore, data: bytes, digest: str | None = None) -> str:
    """Upload ``data`` in one write and commit it; return the digest."""
    digest = digest or sha256(data)
    upload_id = store.begin_upload()
    store.write(upload_id, 0, [data])
    store.commit(upload_id, digest)
    return digest


def read_all(store: BlobStore, digest: str, offset: int = 0, length: int | None = None) -> bytes:
    return b"".join(store.open_read(digest, offset, length))
