"""The ``store`` fixture: every blob-store backend, so each contract test runs against all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cargohold.storage import BlobStore, open_store

BACKEND_NAMES = ["filesystem", "memory"]


@pytest.fixture(params=BACKEND_NAMES)
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], BlobStore]:
    """A factory of fresh stores of one backend (each filesystem store gets its own root)."""
    kind: str = request.param
    counter = iter(range(1_000_000))

    def make() -> BlobStore:
        if kind == "filesystem":
            return open_store(kind, root=str(tmp_path / f"root{next(counter)}"))
        return open_store(kind)

    return make


@pytest.fixture
def store(make_store: Callable[[], BlobStore]) -> BlobStore:
    return make_store()
