"""``cargohold workflow run|lint`` options, through click, in local mode on a data directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cargohold.cli.main import cli
from cargohold.cli.workflow import _dotenv

WORKFLOW = """
on:
  push:
    branches: [main]
jobs:
  show:
    permissions: {packages: read}
    steps:
      - run: |
          echo "secret=${{ secrets.API_KEY }} quoted=${{ secrets.QUOTED }}"
          echo "var=${{ vars.COLOUR }} input=${{ github.event.inputs.level }}"
          echo "token=${{ secrets.GITHUB_TOKEN }}"
"""


@pytest.fixture
def data_dir(tmp_path: Path) -> str:
    d = str(tmp_path / "data")
    runner = CliRunner()
    for args in (["user", "create", "alice"], ["repo", "create", "alice/app"]):
        result = runner.invoke(cli, [*args, "--data-dir", d])
        assert result.exit_code == 0, result.output
    return d


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["workflow", *args])
    return result.exit_code, result.output


def test_local_mode_run_with_secret_and_var_files(tmp_path: Path, data_dir: str) -> None:
    wf = tmp_path / "wf.yml"
    wf.write_text(WORKFLOW)
    secrets = tmp_path / "secrets.env"
    secrets.write_text('# act-style\nAPI_KEY=abcd-1234-key\nexport QUOTED="two words"\n')
    variables = tmp_path / "vars.env"
    variables.write_text("COLOUR='blue'\n")
    code, out = invoke(
        "run", str(wf), "--repository", "alice/app", "--data-dir", data_dir,
        "--context", str(tmp_path), "--secret-file", str(secrets), "--var-file", str(variables),
    )  # fmt: skip
    assert code == 0, out
    assert "secret=*** quoted=***" in out
    assert "var=blue" in out
    assert "abcd-1234-key" not in out and "two words" not in out
    assert "token=***" in out
    assert "GITHUB_TOKEN Permissions\n  Metadata: read\n  Packages: read\n" in out
    assert "Complete job: job token chj_" in out


def test_local_mode_runs_matrix_jobs_in_parallel(tmp_path: Path, data_dir: str) -> None:
    wf = tmp_path / "wf.yml"
    wf.write_text(
        "on: push\njobs:\n  t:\n    strategy: {max-parallel: 2, matrix: {v: [1, 2, 3]}}\n"
        '    steps: [{run: "echo v=${{ matrix.v }}"}]\n'
    )
    code, out = invoke(
        "run", str(wf), "--repository", "alice/app", "--data-dir", data_dir,
        "--context", str(tmp_path), "--parallel", "4",
    )  # fmt: skip
    assert code == 0, out
    assert "strategy: max-parallel 2; 2 at a time here (--parallel 4)" in out
    assert out.count("Complete job: job token chj_") == 3
    assert all(f"v={v}" in out for v in (1, 2, 3))


def test_not_triggered_says_why(tmp_path: Path, data_dir: str) -> None:
    wf = tmp_path / "wf.yml"
    wf.write_text(WORKFLOW)
    code, out = invoke(
        "run", str(wf), "--repository", "alice/app", "--data-dir", data_dir,
        "--event", "push", "--ref", "refs/heads/feature",
    )  # fmt: skip
    assert code == 0
    assert "Nothing to run: branch 'feature' does not pass on.push.branches." in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--repository", "noslash"], "expected OWNER/NAME"),
        (["--repository", "a/b", "--server", "http://127.0.0.1:1"], "needs a runner credential"),
        (["--repository", "a/b", "--secret", "NOVALUE"], "expected NAME=VALUE"),
        (["--repository", "a/b", "--registry-alias", "ghcr.io"], "NAME=HOST:PORT"),
        (["--repository", "a/b", "--event", "release"], "needs --tag"),
        (["--repository", "a/b", "--parallel", "0"], "0 is not in the range"),
    ],
)
def test_bad_options(tmp_path: Path, args: list[str], message: str) -> None:
    wf = tmp_path / "wf.yml"
    wf.write_text(WORKFLOW)
    code, out = invoke("run", str(wf), "--context", str(tmp_path), *args)
    assert code != 0
    assert message in out


def test_malformed_workflow_names_the_line(tmp_path: Path) -> None:
    wf = tmp_path / "bad.yml"
    wf.write_text("on: push\njobs:\n  a:\n    steps:\n      - run: x\n        uses: y@v1\n")
    code, out = invoke("run", str(wf), "--repository", "a/b")
    assert code == 1
    assert f"{wf}:5:9: step 1 must have exactly one of 'uses' or 'run'" in out
    code, out = invoke("lint", str(wf), "--repository", "a/b")
    assert code == 1 and ":5:9:" in out


def test_mint_refused_for_an_unknown_repository(tmp_path: Path, data_dir: str) -> None:
    wf = tmp_path / "wf.yml"
    wf.write_text(WORKFLOW)
    code, out = invoke(
        "run", str(wf), "--repository", "alice/nope", "--data-dir", data_dir,
        "--context", str(tmp_path),
    )  # fmt: skip
    assert code == 1
    assert "minting a job token failed" in out and "alice/nope" in out


def test_lint_on_the_data_directory(tmp_path: Path, data_dir: str) -> None:
    seed = Path(__file__).resolve().parents[2] / "fixtures" / "workflow" / "release.yml"
    code, out = invoke("lint", str(seed), "--repository", "alice/app", "--data-dir", data_dir)
    assert code == 0, out
    # No package alice/app yet: the job's first push creates it.
    assert "creates the package alice/app" in out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A=1\n", {"A": "1"}),
        ("# c\n\nexport B = 'x y'\n", {"B": "x y"}),
        ('C="line\\nbreak"\n', {"C": "line\nbreak"}),
        ("D='raw\\n'\n", {"D": "raw\\n"}),
        ("E=a=b\n", {"E": "a=b"}),
    ],
)
def test_dotenv(tmp_path: Path, text: str, expected: dict[str, str]) -> None:
    path = tmp_path / ".env"
    path.write_text(text)
    assert _dotenv(str(path), "--secret-file") == expected
