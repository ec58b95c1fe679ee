"""Run a real ``cargohold`` process for functional and end-to-end tests.

``ServerProcess`` starts ``python -m cargohold serve`` on a free loopback port and waits until
``GET /v2/`` answers 200 or 401. The server's stdout and stderr go to
``<data_dir>/server.stdout.log`` and ``<data_dir>/server.stderr.log``; a failed start raises
with the tail of stderr.

    with ServerProcess().start(tmp_path / "data") as server:
        requests_to(server.url)            # http://127.0.0.1:PORT
        skopeo_copy(..., f"docker://{server.host}/octo/app:1")

``run_cli`` runs one CLI command against a data directory and returns the completed process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel picked it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    if extra:
        env.update(extra)
    return env


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return ""


class ServerStartError(RuntimeError):
    """The server exited or did not answer ``GET /v2/`` in time."""


class ServerProcess:
    """One ``cargohold serve`` process on 127.0.0.1. Start it once; stop is idempotent."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.data_dir = Path()

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, the registry host as OCI clients write it."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://{self.host}"

    @property
    def stdout_path(self) -> Path:
        return self.data_dir / "server.stdout.log"

    @property
    def stderr_path(self) -> Path:
        return self.data_dir / "server.stderr.log"

    def start(
        self,
        data_dir: str | os.PathLike[str],
        *,
        env: Mapping[str, str] | None = None,
        extra_args: Sequence[str] = (),
        timeout: float = START_TIMEOUT,
    ) -> Self:
        """Start the server and wait until it answers; raise ``ServerStartError`` if not."""
        if self.proc is not None:
            raise RuntimeError("ServerProcess already started")
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        cmd = [
            sys.executable,
            "-m",
            "cargohold",
            "serve",
            "--data-dir",
            str(self.data_dir),
            "--listen",
            self.host,
            *extra_args,
        ]
        with self.stdout_path.open("ab") as out, self.stderr_path.open("ab") as err:
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=_env(env),
                start_new_session=True,
            )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        last_error = "no answer"
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                raise ServerStartError(
                    f"cargohold serve exited with {code} before answering; stderr:\n"
                    + _tail(self.stderr_path)
                )
            try:
                with urllib.request.urlopen(f"{self.url}/v2/", timeout=2) as resp:
                    if resp.status == 200:
                        return
                    last_error = f"status {resp.status}"
            except urllib.error.HTTPError as exc:
                if exc.code == 401:
                    return
                last_error = f"status {exc.code}"
            except (OSError, urllib.error.URLError) as exc:
                last_error = repr(exc)
            time.sleep(0.05)
        raise ServerStartError(
            f"cargohold serve did not answer GET /v2/ within {timeout}s ({last_error}); "
            "stderr:\n" + _tail(self.stderr_path)
        )

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, then SIGKILL (to the whole process group) after ``timeout`` seconds.

        Returns the exit code, or None when the server was never started.
        """
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        # Children the server left behind (workers) go with it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        return proc.returncode

    def logs(self) -> str:
        """stdout and stderr so far, for assertion messages."""
        return (
            "--- stdout ---\n"
            + _tail(self.stdout_path, 20000)
            + "\n--- stderr ---\n"
            + _tail(self.stderr_path, 20000)
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def run_cli(
    *args: str,
    data_dir: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m cargohold ARGS... --data-dir DATA_DIR``; never raises on exit status."""
    return subprocess.run(
        [sys.executable, "-m", "cargohold", *args, "--data-dir", str(data_dir)],
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=_env(env),
        timeout=timeout,
        check=False,
    )
