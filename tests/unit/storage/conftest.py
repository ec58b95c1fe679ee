"""The ``store`` fixture: every blob-store backend, so each contract test runs against all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cargohold.storage import BlobStore, open_store
from support.s3 import s3_options

# "filesystem" appends with O_DIRECT (the default); "filesystem-buffered" through the page cache.
BACKEND_NAMES = ["filesystem", "filesystem-buffered", "memory", "s3"]


@pytest.fixture(params=BACKEND_NAMES)
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], BlobStore]:
    """A factory of fresh stores of one backend (each filesystem store gets its own root, each
    S3 store its own prefix in the test bucket)."""
    kind: str = request.param
    counter = iter(range(1_000_000))

    def make() -> BlobStore:
        if kind.startswith("filesystem"):
            root = str(tmp_path / f"root{next(counter)}")
            return open_store("filesystem", root=root, direct_writes=kind == "filesystem")
        if kind == "s3":
            return open_store(kind, **s3_options())
        return open_store(kind)

    return make


@pytest.fixture
def store(make_store: Callable[[], BlobStore]) -> BlobStore:
    return make_store()
