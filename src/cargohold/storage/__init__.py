"""Blob storage: a narrow protocol over digests and byte streams, and its backends."""

from __future__ import annotations

from cargohold.storage.protocol import CHUNK_SIZE, BlobInfo, BlobStore, UploadState
from cargohold.storage.registry import BACKENDS, open_store

__all__ = ["BACKENDS", "CHUNK_SIZE", "BlobInfo", "BlobStore", "UploadState", "open_store"]
