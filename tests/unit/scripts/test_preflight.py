"""scripts/preflight.py: the test command stops with one line naming a client that does not run.

The clients are stand-ins (small shell scripts on PATH) so each failure can be staged: podman
without its network backend (the fresh-machine failure of issue 6), a client that is missing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "preflight.py"

GOOD = {
    "skopeo": 'echo "skopeo version 1.9.3"',
    "podman": 'echo "netavark"',
    "buildah": 'echo "Version:         1.28.2"',
    "docker-registry": 'echo "docker-registry github.com/docker/distribution 2.8.2+ds1"',
    "wrk": 'echo "wrk debian/4.1.0-3+b2 [epoll] Copyright (C) 2012 Will Glozer"; exit 1',
    "pg_ctl": 'echo "pg_ctl (PostgreSQL) 15.18"',
}
NETAVARK = (
    "echo 'Error: could not find \"netavark\" in one of [/usr/local/libexec/podman]' >&2; exit 125"
)


def _run(tmp_path: Path, clients: dict[str, str]) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in clients.items():
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    env = {
        "PATH": str(bin_dir),  # only the stand-ins: the real clients must not be found
        "TEST_PG_BIN": str(bin_dir),
        "HOME": str(tmp_path),
    }
    return subprocess.run(
        [sys.executable, str(SCRIPT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_client_runs(tmp_path: Path) -> None:
    proc = _run(tmp_path, GOOD)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_podman_without_netavark_is_one_line(tmp_path: Path) -> None:
    proc = _run(tmp_path, {**GOOD, "podman": NETAVARK})
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("test.sh: a client the tests need does not run: podman: ")
    assert 'could not find "netavark"' in lines[0]
    assert "install-test-deps.sh" in lines[0]


def test_a_missing_client_is_named(tmp_path: Path) -> None:
    clients = {k: v for k, v in GOOD.items() if k not in ("buildah", "pg_ctl")}
    proc = _run(tmp_path, clients)
    assert proc.returncode == 1
    [line] = proc.stderr.splitlines()
    assert "buildah: not installed" in line
    assert "PostgreSQL 15: not installed" in line
    assert "skopeo" not in line
