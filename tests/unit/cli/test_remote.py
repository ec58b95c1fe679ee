"""The remote CLI's pure parts: exit codes and the stored login (a secret on disk)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from cargohold.cli import remote

SERVER = "https://registry.example"


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private HOME and XDG_CONFIG_HOME: the tests never touch the real login file."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return tmp_path


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, 2),
        (422, 2),
        (401, 3),
        (403, 3),
        (404, 4),
        (0, 1),  # could not reach the server
        (409, 1),
        (429, 1),
        (500, 1),
        (200, 1),
    ],
)
def test_exit_code(status: int, code: int) -> None:
    assert remote.exit_code(status) == code


def test_the_config_dir_follows_xdg_config_home(home: Path) -> None:
    assert remote.config_dir() == home / "xdg" / "cargohold"


def test_login_is_stored_0600_in_a_0700_directory(home: Path) -> None:
    path = remote.store_login(SERVER, "chp_secret", "alice")
    assert path.parent == home / "xdg" / "cargohold"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text()) == {SERVER: {"token": "chp_secret", "user": "alice"}}
    assert not path.with_suffix(".tmp").exists()
    assert remote.stored_token(SERVER) == "chp_secret"
    assert remote.stored_token(SERVER + "/") == "chp_secret"  # a trailing slash is the same server
    assert remote.stored_token("https://other.example") is None


def test_an_existing_loose_directory_is_tightened(home: Path) -> None:
    directory = home / "xdg" / "cargohold"
    directory.mkdir(parents=True, mode=0o755)
    directory.chmod(0o755)
    remote.store_login(SERVER, "chp_secret", "alice")
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_logins_to_several_servers_are_kept_apart() -> None:
    remote.store_login(SERVER, "chp_one", "alice")
    remote.store_login("https://b.example/", "chp_two", "bob")
    remote.store_login(SERVER, "chp_three", "alice")  # signing in again replaces
    assert remote.stored_token(SERVER) == "chp_three"
    assert remote.stored_token("https://b.example") == "chp_two"


def test_forget_login_removes_only_that_server() -> None:
    assert remote.forget_login(SERVER) is False  # no file yet
    path = remote.store_login(SERVER, "chp_one", "alice")
    remote.store_login("https://b.example", "chp_two", "bob")
    assert remote.forget_login(SERVER + "/") is True
    assert remote.stored_token(SERVER) is None
    assert remote.stored_token("https://b.example") == "chp_two"
    assert "chp_one" not in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert remote.forget_login(SERVER) is False  # already gone


@pytest.mark.parametrize("content", ["", "not json", "[1, 2]", '{"https://registry.example": 5}'])
def test_a_damaged_login_file_is_no_login(content: str) -> None:
    path = remote.config_dir() / "hosts.json"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    assert remote.stored_token(SERVER) is None
    remote.forget_login(SERVER)  # no crash; a damaged entry for the server may go
    assert remote.stored_token(SERVER) is None
    remote.store_login(SERVER, "chp_new", "alice")  # and signing in repairs it
    assert remote.stored_token(SERVER) == "chp_new"


def test_run_remote_without_a_token_is_not_signed_in() -> None:
    with pytest.raises(remote.RemoteError) as caught:
        remote.run_remote("user_create", SERVER, None, {"name": "x", "site_admin": False})
    assert caught.value.status == 401
    assert f"cargohold login {SERVER}" in caught.value.message


def test_run_remote_refuses_local_only_actions() -> None:
    with pytest.raises(remote.RemoteError) as caught:
        remote.run_remote("no_such_action", SERVER, "chp_token", {})
    assert caught.value.status == 400
    assert "local mode" in caught.value.message


def test_quote_keeps_a_path_segment_whole() -> None:
    assert remote.quote("acme/shop") == "acme%2Fshop"
    assert remote.quote("../admin") == "..%2Fadmin"
