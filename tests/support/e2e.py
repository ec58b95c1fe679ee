"""Helpers for the end-to-end tests: run the real clients, call the CLI, talk HTTP.

    out = run([skopeo, "copy", ...], env=client_env)            # asserts exit 0
    err = run([skopeo, "copy", ...], env=client_env, ok=False)  # asserts it failed
    secret = cli(server, "token", "create", "--user", "alice", "--scopes", "read:packages")
    data = cli_json(server, "package", "show", "acme/shop")
    resp = http("GET", f"{server.url}/v2/acme/shop/tags/list", secret=secret)

Every failure message carries the command, its output and the server's log tail, so a CI log
says what went wrong without re-running anything.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from support.server import ServerProcess, run_cli

T = TypeVar("T")

CLIENT_TIMEOUT = 120.0
TLS_OFF = "--tls-verify=false"


def _show(argv: Sequence[str], proc: subprocess.CompletedProcess[str]) -> str:
    return (
        f"$ {' '.join(argv)}\nexit {proc.returncode}\n"
        f"--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-6000:]}"
    )


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    ok: bool = True,
    server: ServerProcess | None = None,
    input: str | None = None,
    timeout: float = CLIENT_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run a client command; assert it succeeded (``ok=True``) or failed (``ok=False``)."""
    proc = subprocess.run(
        list(argv),
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=dict(env),
        timeout=timeout,
        check=False,
    )
    if (proc.returncode == 0) != ok:
        expected = "succeed" if ok else "fail"
        logs = f"\n{server.logs()[-8000:]}" if server is not None else ""
        raise AssertionError(f"expected the command to {expected}:\n{_show(argv, proc)}{logs}")
    return proc


def cli(server: ServerProcess, *args: str, ok: bool = True) -> str:
    """Run ``cargohold ARGS --data-dir <server's>``; return stdout stripped (assert exit 0)."""
    proc = run_cli(*args, data_dir=server.data_dir)
    if (proc.returncode == 0) != ok:
        argv = ["cargohold", *args, "--data-dir", str(server.data_dir)]
        raise AssertionError(f"cargohold CLI: unexpected exit status\n{_show(argv, proc)}")
    return proc.stdout.strip()


def cli_json(server: ServerProcess, *args: str) -> Any:
    """``cli(..., "--json")`` parsed."""
    out = cli(server, *args, "--json")
    try:
        return json.loads(out)
    except ValueError as exc:
        raise AssertionError(f"cargohold {' '.join(args)} --json printed no JSON:\n{out}") from exc


def secret_of(output: str) -> str:
    """The secret a creating CLI command printed: its only stdout line."""
    lines = output.splitlines()
    assert len(lines) == 1 and lines[0].strip(), f"expected one line (a secret), got {output!r}"
    return lines[0].strip()


def admin_token(server: ServerProcess, timeout: float = 5.0) -> str:
    """The site-admin token ``cargohold serve`` wrote to ``<data dir>/admin-token`` on its first
    start (it prints the file's path, never the token, when stdout is not a terminal)."""
    path = server.data_dir / "admin-token"

    def find() -> str | None:
        return path.read_text().strip() if path.is_file() else None

    return wait_for(find, timeout=timeout, what=f"the first-start admin token in {path}")


def wait_for(fn: Callable[[], T | None], *, timeout: float, what: str, step: float = 0.1) -> T:
    """Call ``fn`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)


def basic(secret: str, user: str = "x") -> str:
    """An ``Authorization`` header value: HTTP Basic, any user name, the secret as password."""
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


@dataclass
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes = field(repr=False)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


def http(
    method: str,
    url: str,
    *,
    secret: str | None = None,
    headers: Mapping[str, str] | None = None,
    data: bytes | None = None,
    timeout: float = 30.0,
) -> Response:
    """One HTTP request (no redirects followed by hand, no retries); never raises on status."""
    all_headers = dict(headers or {})
    if secret is not None:
        all_headers["Authorization"] = basic(secret)
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return Response(resp.status, dict(resp.headers.items()), resp.read())
    except urllib.error.HTTPError as exc:
        return Response(exc.code, dict(exc.headers.items()), exc.read())


def tags(server: ServerProcess, name: str, secret: str | None) -> list[str]:
    """The tags of repository ``name`` (``[]`` when it has none or is unknown)."""
    resp = http("GET", f"{server.url}/v2/{name}/tags/list", secret=secret)
    if resp.status == 404:
        return []
    assert resp.status == 200, f"GET tags/list of {name}: {resp.status} {resp.text}"
    return list(resp.json().get("tags") or [])


def manifest_status(server: ServerProcess, name: str, reference: str, secret: str | None) -> int:
    """HTTP status of ``HEAD /v2/<name>/manifests/<reference>`` (any manifest type)."""
    accept = ", ".join(
        [
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.docker.distribution.manifest.v2+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
        ]
    )
    url = f"{server.url}/v2/{name}/manifests/{reference}"
    return http("HEAD", url, secret=secret, headers={"Accept": accept}).status


def creds(secret: str, user: str = "ci") -> str:
    """``USER:SECRET`` for skopeo's ``--src-creds``/``--dest-creds`` and podman's ``--creds``."""
    return f"{user}:{secret}"


def skopeo_inspect_raw(
    skopeo: str,
    env: Mapping[str, str],
    ref: str,
    *,
    secret: str | None = None,
    server: ServerProcess | None = None,
) -> bytes:
    """``skopeo inspect --raw docker://REF``: the manifest bytes exactly as the registry holds."""
    argv = [skopeo, "inspect", "--raw", TLS_OFF]
    argv += ["--creds", creds(secret)] if secret else ["--no-creds"]
    proc = subprocess.run(
        [*argv, f"docker://{ref}"], capture_output=True, env=dict(env), timeout=CLIENT_TIMEOUT
    )
    if proc.returncode != 0:
        logs = f"\n{server.logs()[-6000:]}" if server is not None else ""
        raise AssertionError(
            f"skopeo inspect --raw {ref} failed ({proc.returncode}):\n"
            f"{proc.stderr.decode(errors='replace')}{logs}"
        )
    return proc.stdout


def error_lines(stderr: str, needle: str) -> list[str]:
    """The lines of a client's stderr that contain ``needle``."""
    return [line for line in stderr.splitlines() if needle in line]
