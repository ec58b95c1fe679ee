"""The local-mode CLI: every word of the issue, its output contract and its errors."""

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
        result = runner.invoke(cli, [*args, "--data-dir", data])
        if ok:
            assert result.exit_code == 0, result.output
        else:
            assert result.exit_code != 0, result.output
        return result

    return invoke


def test_setup_words_and_why(run: Any) -> None:
    assert json.loads(run("user", "create", "alice", "--json").stdout)["login"] == "alice"
    run("user", "create", "bob")
    run("user", "create", "root", "--site-admin")
    run("org", "create", "acme", "--owner", "alice")
    run("org", "member", "add", "acme", "bob", "--role", "member")
    run("team", "create", "acme/devs")
    run("team", "member", "add", "acme/devs", "bob")
    run("repo", "create", "acme/shop", "--visibility", "private")
    run("repo", "collaborator", "add", "acme/shop", "--team", "acme/devs", "--role", "maintain")
    secret = run(
        "token",
        "create",
        "--user",
        "alice",
        "--scopes",
        "read:packages,write:packages",
        "--expires-in",
        "30d",
    ).stdout
    assert secret.count("\n") == 1 and secret.startswith("chp_")
    runner_secret = run("runner", "create", "ci", "--serves", "acme").stdout.strip()
    assert runner_secret.startswith("chr_")
    job = run(
        "job-token",
        "create",
        "--repository",
        "acme/shop",
        "--permissions",
        "packages=write,contents=read",
        "--ttl",
        "1h",
    ).stdout.strip()
    assert job.startswith("chj_")
    default_job = run("job-token", "create", "--repository", "acme/shop").stdout.strip()
    assert default_job.startswith("chj_")
    tokens = json.loads(run("token", "list", "--json").stdout)
    job_row = next(t for t in tokens if t["id"] == default_job[:10])
    assert (
        job_row["permissions"] == "contents=read,metadata=read,packages=read"
    )  # restricted default
    assert all(secret.strip() not in json.dumps(t) for t in tokens)
    run("token", "revoke", secret[:10])
    run("token", "revoke", secret[:10], ok=False)
    why = json.loads(run("why", "acme/shop", "--user", "alice", "--json").stdout)
    assert why["role"] == "admin"
    assert why["exists"] is False


def test_package_words(run: Any, tmp_path: Path) -> None:
    run("user", "create", "alice")
    run("org", "create", "acme", "--owner", "alice")
    run("repo", "create", "acme/shop")
    # Packages come to be by a push; create one through the domain service a push uses.
    from cargohold.cli.local import run_local
    from cargohold.registry.values import Actor, Target

    data = str(tmp_path / "data")
    run_local(data, None, lambda svc: svc.packages.for_push(Target("acme/shop"), Actor()))
    shown = json.loads(run("package", "show", "acme/shop", "--json").stdout)
    assert shown["visibility"] == "private"
    run("package", "visibility", "acme/shop", "public")
    run("package", "link", "acme/shop", "--repository", "acme/shop")
    run("package", "inherit", "acme/shop", "on")
    run("user", "create", "bob")
    run("package", "access", "add", "acme/shop", "--user", "bob", "--role", "write")
    run(
        "package",
        "actions-access",
        "add",
        "acme/shop",
        "--repository",
        "acme/shop",
        "--role",
        "write",
    )
    shown = json.loads(run("package", "show", "acme/shop", "--json").stdout)
    assert shown["visibility"] == "public"
    assert shown["linked_repository"] == "acme/shop"
    assert shown["inherit"] is True
    assert shown["access"] == [{"user": "bob", "role": "write"}]
    assert shown["actions_access"][0]["repository"] == "acme/shop"
    why = json.loads(run("why", "acme/shop", "--repository", "acme/shop", "--json").stdout)
    assert why["role"] == "write"
    assert {s["kind"] for s in why["sources"]} >= {"actions_access"}
    run("package", "actions-access", "remove", "acme/shop", "--repository", "acme/shop")
    run("package", "actions-access", "remove", "acme/shop", "--repository", "acme/shop", ok=False)
    assert json.loads(run("audit", "--json").stdout) == []
    swept = json.loads(run("uploads", "sweep", "--older-than", "1h", "--json").stdout)
    assert swept == {"sessions": 0, "orphans": 0}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("user", "create", "Bad_Name"), "invalid name"),
        (("org", "create", "acme", "--owner", "nobody"), "no user"),
        (("repo", "create", "nobody/x"), "no user or organization"),
        (("token", "create", "--user", "alice", "--scopes", "admin:org"), "invalid scopes"),
        (
            (
                "token",
                "create",
                "--user",
                "alice",
                "--scopes",
                "read:packages",
                "--expires-in",
                "soon",
            ),
            "invalid duration",
        ),
        (("job-token", "create", "--repository", "acme/none"), "no repository"),
        (("package", "show", "acme/none"), "no package"),
        (("package", "show", "Acme/None"), "invalid"),
    ],
)
def test_errors_are_clear(run: Any, args: tuple[str, ...], needle: str) -> None:
    run("user", "create", "alice")
    run("org", "create", "acme", "--owner", "alice")
    result = run(*args, ok=False)
    assert needle in result.stderr
    assert "Traceback" not in result.output
