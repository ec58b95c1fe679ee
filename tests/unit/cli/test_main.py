"""``local_command``: options in, one service call, output and exit codes out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from cargohold.cli.main import cli, local_command
from cargohold.cli.manage import Secret
from cargohold.errors import (
    CargoholdError,
    DeniedError,
    InvalidRequestError,
    NotFoundError,
    UnauthorizedError,
)
from cargohold.services import Services


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("CARGOHOLD_TOKEN", raising=False)


def invoke(group: click.Group, tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(group, [*args, "--data-dir", str(tmp_path / "data")])


def test_user_create_then_token_create_prints_exactly_the_secret(tmp_path: Path) -> None:
    made = invoke(cli, tmp_path, "user", "create", "alice", "--json")
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["login"] == "alice"
    token = invoke(cli, tmp_path, "token", "create", "--user", "alice", "--scopes", "read:packages")
    assert token.exit_code == 0, token.output
    assert token.stdout.count("\n") == 1
    assert token.stdout.startswith("chp_")
    listed = invoke(cli, tmp_path, "token", "list", "--json")
    assert [t["id"] for t in json.loads(listed.stdout)] == [token.stdout[:10]]
    assert token.stdout.strip() not in listed.stdout  # lists show ids, never secrets


def test_a_zero_lifetime_is_refused_with_exit_code_2(tmp_path: Path) -> None:
    invoke(cli, tmp_path, "user", "create", "alice")
    args = ("token", "create", "--user", "alice", "--scopes", "read:packages", "--expires-in")
    refused = invoke(cli, tmp_path, *args, "0")
    assert refused.exit_code == 2
    assert refused.stdout == ""
    assert "longer than 0" in refused.stderr
    listed = invoke(cli, tmp_path, "token", "list", "--json")
    assert json.loads(listed.stdout) == []  # nothing was created


def test_errors_of_the_domain_map_to_exit_codes(tmp_path: Path) -> None:
    raised: dict[str, CargoholdError] = {
        "bad": InvalidRequestError("no such role"),
        "anonymous": UnauthorizedError("sign in"),
        "denied": DeniedError("not yours"),
        "missing": NotFoundError("no user bob"),
    }

    async def fail(svc: Services, which: str) -> None:
        """Raise the chosen error."""
        raise raised[which]

    group = click.Group("g")
    local_command(group, "fail", fail, click.argument("which"))
    for which, code in [("bad", 2), ("anonymous", 3), ("denied", 3), ("missing", 4)]:
        result = invoke(group, tmp_path, "fail", which)
        assert result.exit_code == code, which
        assert result.stderr == f"error: {raised[which].message}\n"
        assert result.stdout == ""


def test_options_reach_the_action_and_its_result_is_printed(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    async def echo(svc: Services, name: str, loud: bool) -> dict[str, Any]:
        """Echo the options."""
        seen["data_dir"] = str(svc.settings.data_dir)
        return {"name": name, "loud": loud}

    async def secret(svc: Services) -> Secret:
        """Make a secret."""
        return Secret("chp_only_this")

    group = click.Group("g")
    local_command(group, "echo", echo, click.argument("name"), click.option("--loud", is_flag=True))
    local_command(group, "secret", secret)
    result = invoke(group, tmp_path, "echo", "bob", "--loud", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"name": "bob", "loud": True}
    assert Path(seen["data_dir"]) == tmp_path / "data"
    assert invoke(group, tmp_path, "secret").stdout == "chp_only_this\n"
    assert "Echo the options." in CliRunner().invoke(group, ["--help"]).stdout


def test_server_without_a_login_exits_3_without_touching_local_data(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["user", "create", "alice", "--server", "https://registry.example"]
    )
    assert result.exit_code == 3
    assert "not signed in" in result.stderr
    assert not (tmp_path / "data").exists()
