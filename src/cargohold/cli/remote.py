"""Remote mode: the CLI talks to a running server through its REST API, like ``gh`` does.

    cargohold login https://registry.example         # asks for a token, checks it, stores it
    cargohold package list acme --server https://registry.example
    CARGOHOLD_TOKEN=chp_... cargohold why acme/shop --user bob --server https://...

The token comes from ``--token``, else ``CARGOHOLD_TOKEN``, else the stored login for that
server (``<config dir>/cargohold/hosts.json``, mode 0600, the directory 0700). HTTPS is verified
with the system's CA store (``SSL_CERT_FILE`` points elsewhere).

Exit codes, the same in local mode: 2 bad input, 3 denied (or not signed in), 4 not found,
1 anything else.
"""

from __future__ import annotations

import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

EXIT_BAD_INPUT = 2
EXIT_DENIED = 3
EXIT_NOT_FOUND = 4


def exit_code(status: int) -> int:
    """The CLI's exit code for an HTTP status (local errors carry the same statuses)."""
    if status in (400, 422):
        return EXIT_BAD_INPUT
    if status in (401, 403):
        return EXIT_DENIED
    if status == 404:
        return EXIT_NOT_FOUND
    return 1


class RemoteError(Exception):
    """The server refused: its status and GitHub-shaped body (``message``, ``detail``...)."""

    def __init__(self, status: int, message: str, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.body = body


def config_dir() -> Path:
    return Path(click.get_app_dir("cargohold"))


def _hosts_file() -> Path:
    return config_dir() / "hosts.json"


def _key(server: str) -> str:
    return server.rstrip("/")


def stored_token(server: str) -> str | None:
    try:
        hosts = json.loads(_hosts_file().read_text())
    except (OSError, ValueError):
        return None
    entry = hosts.get(_key(server)) if isinstance(hosts, dict) else None
    token = entry.get("token") if isinstance(entry, dict) else None
    return token if isinstance(token, str) else None


def store_login(server: str, token: str, login: str) -> Path:
    """Keep ``token`` for ``server``; the file is 0600 and its directory 0700 from the start."""
    directory = config_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    path = _hosts_file()
    try:
        hosts = json.loads(path.read_text())
        if not isinstance(hosts, dict):
            hosts = {}
    except (OSError, ValueError):
        hosts = {}
    hosts[_key(server)] = {"token": token, "user": login}
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(hosts, out, indent=2)
    os.replace(temporary, path)
    return path


def forget_login(server: str) -> bool:
    path = _hosts_file()
    try:
        hosts = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(hosts, dict) or hosts.pop(_key(server), None) is None:
        return False
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(hosts, out, indent=2)
    return True


def quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


@dataclass
class Client:
    """A REST API client for one server and token."""

    server: str
    token: str | None
    timeout: float = 60.0

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict[str, str] | None = None,
        *,
        token: str | None = None,
    ) -> Any:
        """One call under ``/api/v3``; the JSON answer (None for 204); RemoteError otherwise."""
        url = f"{_key(self.server)}/api/v3{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        return self._send(method, url, body, token)[0]

    def paginate(self, path: str, query: dict[str, str] | None = None) -> list[Any]:
        """Every page of a list, following ``Link: rel="next"`` as gh --paginate does."""
        url: str | None = f"{_key(self.server)}/api/v3{path}?" + urllib.parse.urlencode(
            {**(query or {}), "per_page": "100"}
        )
        out: list[Any] = []
        while url is not None:
            page, headers = self._send("GET", url, None, None)
            out.extend(page)
            url = _next_link(headers.get("Link", ""))
        return out

    def _send(
        self, method: str, url: str, body: Any, token: str | None
    ) -> tuple[Any, dict[str, str]]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json", "User-Agent": "cargohold-cli"}
        secret = token or self.token
        if secret:
            headers["Authorization"] = f"token {secret}"
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        context = ssl.create_default_context()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=context) as resp:
                raw = resp.read()
                return (json.loads(raw) if raw else None), dict(resp.headers.items())
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
            message = (
                parsed.get("message") if isinstance(parsed, dict) else None
            ) or f"HTTP {exc.code}"
            raise RemoteError(exc.code, str(message), parsed) from None
        except (urllib.error.URLError, OSError) as exc:
            raise RemoteError(0, f"cannot reach {self.server}: {exc}") from None


def _next_link(header: str) -> str | None:
    for part in header.split(","):
        target, _, rel = part.partition(";")
        if 'rel="next"' in rel:
            return target.strip().strip("<>")
    return None


def run_remote(action: str, server: str, token: str | None, options: dict[str, Any]) -> Any:
    """Run the remote twin of the local action ``action`` against ``server``."""
    from cargohold.cli.remote_actions import REMOTE

    twin = REMOTE.get(action)
    if twin is None:
        raise RemoteError(400, "this command works only in local mode (--data-dir)")
    secret = token or stored_token(server)
    if not secret:
        raise RemoteError(
            401,
            f"not signed in to {server}: `cargohold login {server}`, --token or CARGOHOLD_TOKEN",
        )
    return twin(Client(server, secret), **options)
