"""``cargohold gc`` and ``cargohold retention``: output contract and errors (local mode)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cargohold.cli.main import cli


@pytest.fixture
def run(tmp_path: Path) -> Any:
    runner = CliRunner()
    data = str(tmp_path / "data")

    def invoke(*args: str, ok: bool = True) -> Any:
        result = runner.invoke(cli, [*args, "--data-dir", data, "--json"])
        if ok:
            assert result.exit_code == 0, result.output
            return json.loads(result.output)
        assert result.exit_code != 0, result.output
        return result.output

    return invoke


def test_gc_dry_run_and_run_on_an_empty_registry(run: Any) -> None:
    report = run("gc", "--dry-run")
    assert report["dry_run"] is True and report["would_remove"]["blobs"] == []
    report = run("gc")
    assert (report["ran"], report["blobs"], report["bytes"]) == (True, 0, 0)


def test_retention_set_show_run_remove(run: Any) -> None:
    policy = run(
        "retention", "set", "--owner", "acme", "--keep", "5",
        "--untagged-older-than", "30d", "--protect", "v*,latest",
    )  # fmt: skip
    assert policy == {
        "kind": "owner",
        "name": "acme",
        "keep_newest": 5,
        "untagged_older_than": 30 * 86400,
        "protect": ["v*", "latest"],
    }
    run("retention", "set", "--package", "acme/app", "--keep", "2")
    assert [p["kind"] for p in run("retention", "show")] == ["owner", "package"]
    assert run("retention", "show", "--package", "acme/app")[0]["keep_newest"] == 2
    assert run("retention", "run", "--dry-run") == {"dry_run": True, "deleted": []}
    run("retention", "remove", "--package", "acme/app")
    assert run("retention", "show", "--package", "acme/app") == []


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("retention", "set", "--keep", "1"), "exactly one of --owner or --package"),
        (("retention", "set", "--owner", "a", "--package", "a/b"), "exactly one"),
        (("retention", "set", "--owner", "acme", "--keep", "-1"), "keep_newest"),
        (("retention", "set", "--owner", "acme", "--untagged-older-than", "soon"), "duration"),
        (("retention", "set", "--package", "Bad Name"), "invalid"),
        (("retention", "remove", "--owner", "nobody"), "no retention policy"),
    ],
)
def test_retention_errors_are_clear(run: Any, args: tuple[str, ...], needle: str) -> None:
    assert needle in run(*args, ok=False)
