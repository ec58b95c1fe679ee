"""Fixtures shared by every test folder. Keep this light: unit tests import it too."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# `import support` must work whatever pytest's import mode (the tests/ folder is only put on
# sys.path by the default "prepend" mode, and only while tests/ has no __init__.py).
_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from support.containers import in_ci  # noqa: E402


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """SQLAlchemy URL of the throwaway PostgreSQL database (``scripts/postgres.sh``).

    Read from ``TEST_POSTGRES_URL``; skipped when unset, except under ``CI=true``
    where it fails, so CI never silently skips the PostgreSQL half of the suite.
    """
    url = os.environ.get("TEST_POSTGRES_URL", "")
    if not url:
        message = "TEST_POSTGRES_URL is not set (./scripts/test.sh sets it)"
        if in_ci():
            pytest.fail(message + "; CI must not skip the PostgreSQL tests", pytrace=False)
        pytest.skip(message)
    return url
