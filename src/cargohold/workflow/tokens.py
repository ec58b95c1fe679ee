"""Job tokens for the runner: minted per job, revoked when it ends.

``TokenIssuer`` is what the runner needs; ``HttpTokenIssuer`` speaks the runner API of a
cargohold server with a runner credential (``chr_...``):

    POST   /api/v1/job-tokens        -> 201 {"id", "token", "permissions", "expires_at", ...}
    DELETE /api/v1/job-tokens/{id}   -> 204

The CLI's local mode supplies another issuer that works on the data directory (bootstrap,
no server needed for minting). Either way pushes go over HTTP to the registry.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Protocol

from cargohold.workflow.ociclient import error_text

TIMEOUT = 30.0


class TokenError(Exception):
    """The issuer refused or failed; the message is the server's answer."""


@dataclass(frozen=True, slots=True)
class JobToken:
    id: str
    secret: str
    repository: str
    permissions: dict[str, str]
    expires_at: str


class TokenIssuer(Protocol):
    def mint(
        self, repository: str, permissions: dict[str, str] | None, *, run_id: str, fork: bool
    ) -> JobToken:
        """Mint a job token; ``permissions`` None means "the owner's default"."""
        ...

    def revoke(self, token_id: str) -> None:
        """Revoke a token this issuer minted (idempotent)."""
        ...


class HttpTokenIssuer:
    """The runner API of a cargohold server, authenticated with a runner credential."""

    def __init__(self, server_url: str, runner_secret: str, ttl: int = 3600) -> None:
        self.url = server_url.rstrip("/")
        self.secret = runner_secret
        self.ttl = ttl

    def _call(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self.secret}"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            raise TokenError(f"cannot reach {self.url}: {exc}") from exc

    def mint(
        self, repository: str, permissions: dict[str, str] | None, *, run_id: str, fork: bool
    ) -> JobToken:
        body = {
            "repository": repository,
            "permissions": permissions,
            "ttl": self.ttl,
            "run_id": run_id,
            "fork": fork,
        }
        status, raw = self._call("POST", "/api/v1/job-tokens", body)
        if status != 201:
            raise TokenError(f"minting a job token failed ({status}): {error_text(status, raw)}")
        data = json.loads(raw)
        return JobToken(
            id=str(data["id"]),
            secret=str(data["token"]),
            repository=str(data.get("repository", repository)),
            permissions=dict(data.get("permissions") or {}),
            expires_at=str(data.get("expires_at", "")),
        )

    def revoke(self, token_id: str) -> None:
        status, raw = self._call("DELETE", f"/api/v1/job-tokens/{token_id}")
        if status not in (200, 204, 404):
            raise TokenError(f"revoking job token {token_id} failed: {error_text(status, raw)}")
