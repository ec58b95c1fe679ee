"""Finding 10: ``--expires-in 0s`` (or any duration that is not positive) is an error, not a
token that never expires."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cargohold.cli.main import cli


@pytest.mark.parametrize("duration", ["0", "0s", "0m", "0d"])
def test_a_zero_expiry_is_refused(tmp_path: Path, duration: str) -> None:
    runner, data = CliRunner(), ["--data-dir", str(tmp_path / "data")]
    assert runner.invoke(cli, ["user", "create", "alice", *data]).exit_code == 0
    result = runner.invoke(
        cli,
        ["token", "create", "--user", "alice", "--scopes", "read:packages",
         "--expires-in", duration, *data],
    )  # fmt: skip
    assert result.exit_code != 0
    assert "longer than 0" in result.stderr
    listed = runner.invoke(cli, ["token", "list", "--json", *data])
    assert listed.stdout.strip() == "[]"


@pytest.mark.parametrize("duration", ["-1", "-5m", "1.5h", "soon"])
def test_a_negative_or_malformed_expiry_is_refused(tmp_path: Path, duration: str) -> None:
    runner, data = CliRunner(), ["--data-dir", str(tmp_path / "data")]
    assert runner.invoke(cli, ["user", "create", "alice", *data]).exit_code == 0
    result = runner.invoke(
        cli,
        ["token", "create", "--user", "alice", "--scopes", "read:packages",
         "--expires-in", duration, *data],
    )  # fmt: skip
    assert result.exit_code != 0
    assert "invalid duration" in result.stderr
