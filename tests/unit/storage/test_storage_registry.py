"""Backends are chosen by name; a bad name or option is a ConfigError that says which."""

from __future__ import annotations

from pathlib import Path

import pytest

from cargohold.errors import ConfigError
from cargohold.storage import BACKENDS, BlobStore, open_store
from cargohold.storage.filesystem import FilesystemBlobStore
from cargohold.storage.memory import MemoryBlobStore


def test_known_backends() -> None:
    assert set(BACKENDS) == {"filesystem", "memory", "s3"}


def test_open_filesystem(tmp_path: Path) -> None:
    store = open_store("filesystem", root=str(tmp_path))
    assert isinstance(store, FilesystemBlobStore)
    assert store.name == "filesystem"


def test_open_memory() -> None:
    store = open_store("memory")
    assert isinstance(store, MemoryBlobStore)
    assert isinstance(store, BlobStore)


def test_unknown_backend_is_named() -> None:
    with pytest.raises(ConfigError, match=r"'gcs'.*filesystem, memory"):
        open_store("gcs")


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("filesystem", {}),
        ("filesystem", {"root": "/x", "bucket": "b"}),
        ("memory", {"root": "/x"}),
        ("s3", {"root": "/x"}),
        ("s3", {"bucket": "ok-bucket", "access_key_id": "k"}),
    ],
)
def test_bad_options_name_the_backend(kind: str, options: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=repr(kind)):
        open_store(kind, **options)
