"""``CARGOHOLD_TEST_*`` variables configure the test suite, not cargohold."""

from __future__ import annotations

from pathlib import Path

import pytest

from cargohold.errors import ConfigError
from cargohold.settings import load_settings


def test_test_variables_are_not_settings(tmp_path: Path) -> None:
    env = {"CARGOHOLD_TEST_ARTIFACTS": "/tmp/shots", "CARGOHOLD_WORKERS": "3"}
    assert load_settings({"data_dir": str(tmp_path)}, environ=env).workers == 3


def test_other_unknown_variables_still_stop_the_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CARGOHOLD_TESTS_ARTIFACTS"):
        load_settings({"data_dir": str(tmp_path)}, environ={"CARGOHOLD_TESTS_ARTIFACTS": "x"})
