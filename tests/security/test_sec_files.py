"""Security finding 11: secrets and data on the host.

The first-start admin token (all scopes, no expiry) went to stdout, so into whatever captured the
server's log, and the database and blobs were world-readable (0644/0444). Now the token is in a
0600 file whose path is printed, the data directory the server creates is 0700, and no file it
writes has group or other bits.
"""

from __future__ import annotations

import hashlib
import stat
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from cargohold.db.engine import make_engine
from support.e2e import basic
from support.server import ServerProcess

TIMEOUT = 30.0


@pytest.fixture
def started(tmp_path: Path) -> Iterator[tuple[ServerProcess, Path]]:
    """A server whose data directory does not exist before it starts (logs go elsewhere)."""
    data = tmp_path / "fresh" / "data"
    server = ServerProcess().start(tmp_path / "logs", extra_args=["--data-dir", str(data)])
    with server:
        yield server, data


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _push_blob(server: ServerProcess, token: str, data: bytes) -> None:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    request = urllib.request.Request(
        f"{server.url}/v2/admin/app/blobs/uploads/?digest={digest}",
        data=data,
        method="POST",
        headers={"Authorization": basic(token), "Content-Type": "application/octet-stream"},
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT) as resp:
        assert resp.status == 201


def test_the_admin_token_is_in_a_private_file_not_in_the_log(
    started: tuple[ServerProcess, Path],
) -> None:
    server, data = started
    token_file = data / "admin-token"
    token = token_file.read_text().strip()
    assert token.startswith("chp_")
    assert _mode(token_file) == 0o600
    stdout = server.stdout_path.read_text()
    assert str(token_file) in stdout
    assert token not in stdout
    assert token not in server.stderr_path.read_text()
    _push_blob(server, token, b"the token from the file works")


def test_the_data_directory_and_every_file_are_private(
    started: tuple[ServerProcess, Path],
) -> None:
    server, data = started
    token = (data / "admin-token").read_text().strip()
    _push_blob(server, token, b"a private layer")
    assert _mode(data) == 0o700
    files = [p for p in data.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"cargohold.db", "secret.key", "admin-token"} <= names
    assert any("blobs" in p.parts for p in files), names
    exposed = {str(p.relative_to(data)): oct(_mode(p)) for p in files if _mode(p) & 0o077}
    assert exposed == {}
    dirs = {str(p.relative_to(data)): oct(_mode(p)) for p in data.rglob("*") if p.is_dir()}
    assert {d: m for d, m in dirs.items() if int(m, 8) & 0o077} == {}


def test_a_new_sqlite_database_file_is_0600(tmp_path: Path) -> None:
    # Also when the CLI (not the server, whose umask is 077) creates the database.
    path = tmp_path / "db" / "cargohold.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    finally:
        engine.dispose()
    assert _mode(path) == 0o600
