"""Blob-store backends by name, and the one function the composition root calls.

A backend whose vendor SDK is heavy (S3) should register a small factory that imports its
module lazily, so that a deployment that does not use it does not import the SDK.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cargohold.errors import ConfigError
from cargohold.storage.filesystem import FilesystemBlobStore
from cargohold.storage.memory import MemoryBlobStore
from cargohold.storage.protocol import BlobStore


def _filesystem(*, root: str, direct_writes: bool = True) -> BlobStore:
    return FilesystemBlobStore(root, direct_writes=direct_writes)


def _memory() -> BlobStore:
    return MemoryBlobStore()


def _s3(**options: Any) -> BlobStore:
    from cargohold.storage.s3 import S3BlobStore  # obstore is loaded only when S3 is used

    return S3BlobStore(**options)


BACKENDS: dict[str, Callable[..., BlobStore]] = {
    "filesystem": _filesystem,
    "memory": _memory,
    "s3": _s3,
}
"""Backend name -> factory taking the backend's options as keyword arguments. A constant:
add backends here, never at run time."""


def open_store(kind: str, **options: Any) -> BlobStore:
    """Build the blob store named ``kind`` from its ``options``.

    Raises ``ConfigError`` naming the unknown backend, or the backend and its bad options.
    """
    factory = BACKENDS.get(kind)
    if factory is None:
        known = ", ".join(sorted(BACKENDS))
        raise ConfigError(f"storage.backend: unknown blob store {kind!r} (known: {known})")
    try:
        return factory(**options)
    except TypeError as exc:
        raise ConfigError(f"storage options for {kind!r}: {exc}") from exc
