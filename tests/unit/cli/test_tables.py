"""What the CLI prints: tables for people, JSON for scripts, a secret alone on its line."""

from __future__ import annotations

import json
from typing import Any

import click
import pytest
from click.testing import CliRunner

from cargohold.cli import tables
from cargohold.cli.main import emit
from cargohold.cli.manage import Secret

TOKENS = [
    {
        "id": "chp_AAAAAA",
        "kind": "pat",
        "name": "laptop",
        "scopes": "read:packages",
        "expires_at": None,
        "revoked_at": None,
    },
    {"id": "chj_BBBBBB", "kind": "job", "permissions": "packages=write", "expires_at": "2026"},
]


def emitted(result: Any, as_json: bool, kind: str = "") -> str:
    @click.command()
    def show() -> None:
        emit(result, as_json, kind)

    out = CliRunner().invoke(show, [])
    assert out.exit_code == 0, out.output
    return out.stdout


def test_a_list_with_a_table_prints_columns() -> None:
    out = emitted(TOKENS, as_json=False, kind="token_list")
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "KIND", "NAME", "SCOPES", "EXPIRES", "REVOKED"]
    assert lines[1].split() == ["chp_AAAAAA", "pat", "laptop", "read:packages", "never"]
    # a job token shows its permissions where a PAT shows scopes
    assert lines[2].split() == ["chj_BBBBBB", "job", "packages=write", "2026"]
    with pytest.raises(ValueError):
        json.loads(out)


def test_json_flag_prints_one_json_line_for_scripts() -> None:
    out = emitted(TOKENS, as_json=True, kind="token_list")
    assert out.count("\n") == 1
    assert json.loads(out) == TOKENS


def test_a_list_without_a_table_prints_json() -> None:
    items = [{"a": 1}]
    assert json.loads(emitted(items, as_json=False, kind="no_such_kind")) == items


def test_an_object_prints_indented_json() -> None:
    out = emitted({"login": "alice", "id": 3}, as_json=False)
    assert json.loads(out) == {"login": "alice", "id": 3}
    assert "\n  " in out  # indented for people
    assert emitted({"login": "alice"}, as_json=True).count("\n") == 1


def test_a_secret_prints_alone_on_one_line_even_with_json() -> None:
    for as_json in (False, True):
        assert emitted(Secret("chp_secret"), as_json) == "chp_secret\n"


def test_a_plain_string_prints_as_is_unless_json() -> None:
    assert emitted("done", as_json=False) == "done\n"
    assert emitted("done", as_json=True) == '"done"\n'


def test_print_table_refuses_unknown_kinds_and_prints_empty_lists() -> None:
    assert tables.print_table("no_such_kind", []) is False
    out = emitted([], as_json=False, kind="audit")
    assert out.split() == ["AT", "ACTOR", "PACKAGE", "ACTION", "RESULT", "REASON"]


def test_every_table_reads_what_its_rows_carry() -> None:
    rows: dict[str, dict[str, Any]] = {
        "package_list": {
            "name": "shop",
            "visibility": "private",
            "version_count": 2,
            "updated_at": "2026-01-01",
        },
        "package_versions": {
            "id": 7,
            "name": "sha256:abc",
            "metadata": {"container": {"tags": ["v1", "latest"]}},
            "created_at": "2026-01-01",
        },
        "audit": {"at": "2026-01-01", "actor": "bob", "action": "pull", "result": "denied"},
    }
    assert set(rows) | {"token_list"} == set(tables.COLUMNS)
    for kind, row in rows.items():
        out = emitted([row], as_json=False, kind=kind)
        assert len(out.splitlines()) == 2, kind
    assert "v1, latest" in emitted(
        [rows["package_versions"]], as_json=False, kind="package_versions"
    )
