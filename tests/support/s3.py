"""The throwaway S3 server of the test run (``scripts/seaweedfs.sh``), as store options.

``scripts/test.sh`` starts SeaweedFS and exports ``TEST_S3_ENDPOINT``, ``TEST_S3_BUCKET``,
``TEST_S3_ACCESS_KEY`` and ``TEST_S3_SECRET_KEY``. Without them the S3 tests are skipped,
except under ``CI=true`` where they fail: CI must never silently skip the S3 half.
"""

from __future__ import annotations

import os
import uuid

import pytest

from support.containers import in_ci

_VARS = ("TEST_S3_ENDPOINT", "TEST_S3_BUCKET", "TEST_S3_ACCESS_KEY", "TEST_S3_SECRET_KEY")


def s3_options(**extra: object) -> dict[str, object]:
    """Options for ``open_store("s3", ...)`` under a fresh prefix (each call is its own store).

    Skips the test when the server is not configured (fails it under CI).
    """
    missing = [name for name in _VARS if not os.environ.get(name)]
    if missing:
        message = f"{', '.join(missing)} not set (./scripts/test.sh starts SeaweedFS and sets them)"
        if in_ci():
            pytest.fail(message + "; CI must not skip the S3 tests", pytrace=False)
        pytest.skip(message)
    options: dict[str, object] = {
        "endpoint": os.environ["TEST_S3_ENDPOINT"],
        "bucket": os.environ["TEST_S3_BUCKET"],
        "access_key_id": os.environ["TEST_S3_ACCESS_KEY"],
        "secret_access_key": os.environ["TEST_S3_SECRET_KEY"],
        "prefix": f"test-{uuid.uuid4().hex[:12]}",
    }
    options.update(extra)
    return options
