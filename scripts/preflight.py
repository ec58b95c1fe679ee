"""Check that every client the whole test suite needs actually runs, before any test does.

    .venv/bin/python scripts/preflight.py      # exit 0, or 1 with ONE line naming what is broken

A binary that is on PATH is not enough: podman without its network backend is on PATH and
fails every command (`could not find "netavark"`). So each client is run the way the tests run
it: podman, buildah and skopeo with the tests' private configuration (tests/support/
containers.py, in a throwaway directory; nothing under /etc or /var is touched).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.containers import containers_env  # noqa: E402

PGBIN = os.environ.get("TEST_PG_BIN", "/usr/lib/postgresql/15/bin")
TIMEOUT = 60.0

# (name shown, argv, text the output must contain); run in this order.
CHECKS: list[tuple[str, list[str], str]] = [
    ("skopeo", ["skopeo", "--version"], "skopeo version"),
    ("podman", ["podman", "info", "--format", "{{.Host.NetworkBackend}}"], ""),
    ("buildah", ["buildah", "version"], "Version:"),
    ("docker-registry", ["docker-registry", "--version"], "distribution"),
    # wrk has no --version: `wrk -v` prints its version and usage and exits 1.
    ("wrk", ["wrk", "-v"], "wrk "),
    ("PostgreSQL 15", [f"{PGBIN}/pg_ctl", "--version"], "(PostgreSQL) 15"),
]


def _failure(argv: Sequence[str], env: Mapping[str, str], expect: str) -> str | None:
    """None when ``argv`` runs and prints ``expect``; otherwise why not, on one line."""
    try:
        proc = subprocess.run(
            list(argv),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        return "not installed"
    except subprocess.TimeoutExpired:
        return f"`{' '.join(argv)}` did not finish within {TIMEOUT:.0f} s"
    output = proc.stdout + proc.stderr
    if expect and expect in output:
        return None
    if not expect and proc.returncode == 0:
        return None
    first = next((line.strip() for line in output.splitlines() if line.strip()), "no output")
    return f"`{' '.join(argv)}` exited {proc.returncode}: {first}"


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="cargohold-preflight-") as tmp:
        env = containers_env(tmp, "127.0.0.1:1")
        broken = [
            f"{name}: {why}"
            for name, argv, expect in CHECKS
            if (why := _failure(argv, env, expect)) is not None
        ]
    if broken:
        print(
            "test.sh: a client the tests need does not run: "
            + "; ".join(broken)
            + " (scripts/install-test-deps.sh installs them)",
            file=sys.stderr,
        )
        return 1
    print("preflight: skopeo, podman, buildah, docker-registry, wrk, PostgreSQL 15 run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
