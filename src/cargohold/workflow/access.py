"""What the registry says about a repository's jobs and a package, for ``workflow lint``.

``AccessSource`` is what lint asks; ``HttpAccess`` asks a server
(``GET /api/v3/packages/container/{package}/access?repository=OWNER/NAME``, with a PAT of a
package admin); the CLI's local mode supplies one that reads the data directory.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Protocol

from cargohold.workflow.ociclient import error_text


@dataclass(frozen=True, slots=True)
class PackageAccess:
    """What the registry says about a repository's jobs and one package."""

    package: str
    exists: bool
    role: str  # none, read, write, admin
    sources: list[str] = field(default_factory=list)


class AccessSource(Protocol):
    def access(self, package: str, repository: str) -> PackageAccess:
        """The effective role of ``repository``'s jobs on ``package`` (``LookupError`` if
        the owner namespace does not exist)."""
        ...

    def owner_default(self, owner: str, repository: str) -> str | None:
        """``restricted`` / ``permissive`` (for ``repository`` of ``owner``), or None."""
        ...


class AccessError(Exception):
    """The registry could not be asked (unreachable, or the credential is refused)."""


class HttpAccess:
    """Asks a cargohold server: ``GET /api/v3/packages/container/{package}/access``.

    Authenticated with a PAT of an admin of the package (or of its owner namespace), as
    package settings are read.
    """

    def __init__(self, server_url: str, token: str) -> None:
        self.url = server_url.rstrip("/")
        self.token = token
        self._defaults: dict[str, Any] = {}

    def _get(self, package: str, repository: str) -> dict[str, Any]:
        query = urllib.parse.urlencode({"repository": repository})
        url = f"{self.url}/api/v3/packages/container/{package}/access?{query}"
        headers = {}
        if self.token:
            raw = base64.b64encode(f"x:{self.token}".encode()).decode()
            headers["Authorization"] = f"Basic {raw}"
        request = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                data: dict[str, Any] = json.loads(resp.read())
                return data
        except urllib.error.HTTPError as exc:
            text = error_text(exc.code, exc.read())
            if exc.code == 404:
                raise LookupError(text) from exc
            raise AccessError(f"{url}: {text}") from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise AccessError(f"cannot ask {self.url}: {exc}") from exc

    def access(self, package: str, repository: str) -> PackageAccess:
        data = self._get(package, repository)
        self._defaults[package.split("/")[0]] = data.get("owner_default_job_permission")
        return PackageAccess(
            package=package,
            exists=bool(data.get("exists")),
            role=str(data.get("role", "none")),
            sources=[f"{x.get('kind')}: {x.get('why')}" for x in data.get("sources") or []],
        )

    def owner_default(self, owner: str, repository: str) -> str | None:
        if owner not in self._defaults:
            try:
                self.access(repository, repository)
            except LookupError:
                return None
        value = self._defaults.get(owner)
        return str(value) if value else None
