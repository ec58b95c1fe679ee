"""A job's ``GITHUB_TOKEN`` permissions, computed as GitHub computes them. Pure.

    effective(workflow_block, job_block, owner_default, fork=False) -> {scope: level}

1. Start from the owner's default: ``permissive`` (every scope write, metadata read, id-token
   none, models read) or ``restricted`` (contents, packages and metadata read, the rest none).
2. The workflow's ``permissions`` replaces it; a job's ``permissions`` replaces the workflow's
   (job over workflow, never merged).
3. A block that names any scope sets every unnamed scope to ``none``; ``{}`` sets all to none;
   ``read-all`` / ``write-all`` set all to read / write.
4. ``metadata`` is always ``read``: GitHub grants it to every token.
5. Jobs for pull requests from forks get at most ``read`` (``id-token`` none).

A malformed block raises ``PermissionsError`` (a ``ValueError``) saying what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SCOPES = (
    "actions",
    "attestations",
    "checks",
    "contents",
    "deployments",
    "discussions",
    "id-token",
    "issues",
    "metadata",
    "models",
    "packages",
    "pages",
    "pull-requests",
    "repository-projects",
    "security-events",
    "statuses",
)
LEVELS = ("none", "read", "write")
_RANK = {level: i for i, level in enumerate(LEVELS)}
# Scopes that accept only some levels (GitHub's schema).
_ALLOWED = {"id-token": ("none", "write"), "models": ("none", "read")}
# The display names GitHub prints under "GITHUB_TOKEN Permissions".
_DISPLAY = {
    "id-token": "IdToken",
    "pull-requests": "PullRequests",
    "repository-projects": "RepositoryProjects",
    "security-events": "SecurityEvents",
}
OWNER_DEFAULTS = ("permissive", "restricted")
# The scopes cargohold's job tokens carry (the rest are reported but mean nothing here).
REGISTRY_SCOPES = ("packages", "contents", "metadata")


class PermissionsError(ValueError):
    """A ``permissions:`` block GitHub would reject."""


def default(owner_default: str) -> dict[str, str]:
    """The token an owner's default gives a job without any ``permissions`` block."""
    if owner_default == "permissive":
        perms = dict.fromkeys(SCOPES, "write")
        perms.update({"metadata": "read", "id-token": "none", "models": "read"})
        return perms
    if owner_default == "restricted":
        perms = dict.fromkeys(SCOPES, "none")
        perms.update({"contents": "read", "packages": "read", "metadata": "read"})
        return perms
    raise PermissionsError(f"unknown owner default {owner_default!r}: permissive or restricted")


def from_block(block: Any) -> dict[str, str]:
    """The permissions one ``permissions:`` block (a string or a mapping) grants by itself."""
    if isinstance(block, str):
        if block == "read-all":
            perms = {s: _cap(s, "read") for s in SCOPES}
        elif block == "write-all":
            perms = {s: _cap(s, "write") for s in SCOPES}
        else:
            raise PermissionsError(
                f"permissions {block!r} is not allowed: use read-all, write-all or a mapping "
                "of scopes (e.g. packages: write)"
            )
        perms["metadata"] = "read"
        return perms
    if not isinstance(block, Mapping):
        raise PermissionsError(
            "permissions must be read-all, write-all or a mapping such as "
            "{contents: read, packages: write}"
        )
    perms = dict.fromkeys(SCOPES, "none")
    for scope, level in block.items():
        if scope not in SCOPES:
            raise PermissionsError(
                f"unknown permission scope {scope!r}; GitHub knows: {', '.join(SCOPES)}"
            )
        allowed = _ALLOWED.get(scope, LEVELS)
        if level not in allowed:
            raise PermissionsError(
                f"permission {scope}: {level!r} is not allowed; use one of {', '.join(allowed)}"
            )
        perms[scope] = level
    perms["metadata"] = "read"
    return perms


def _cap(scope: str, level: str) -> str:
    allowed = _ALLOWED.get(scope, LEVELS)
    if level in allowed:
        return level
    return max((x for x in allowed if _RANK[x] <= _RANK[level]), key=_RANK.__getitem__)


def effective(
    workflow_block: Any, job_block: Any, owner_default: str, *, fork: bool = False
) -> dict[str, str]:
    """The job token's permissions (see the module docstring for the rules)."""
    if job_block is not None:
        perms = from_block(job_block)
    elif workflow_block is not None:
        perms = from_block(workflow_block)
    else:
        perms = default(owner_default)
    if fork:
        perms = {s: ("none" if s == "id-token" else _at_most_read(v)) for s, v in perms.items()}
    return perms


def _at_most_read(level: str) -> str:
    return "read" if _RANK[level] > _RANK["read"] else level


def explicit(workflow_block: Any, job_block: Any) -> bool:
    """True when a block decides the permissions (else the owner's default does)."""
    return job_block is not None or workflow_block is not None


def display_lines(perms: Mapping[str, str]) -> list[str]:
    """``Contents: read`` lines as GitHub's "Set up job" prints them (granted scopes only)."""
    return [
        f"{display_name(scope)}: {level}"
        for scope, level in sorted(perms.items(), key=lambda kv: display_name(kv[0]))
        if level != "none"
    ]


def display_name(scope: str) -> str:
    return _DISPLAY.get(scope, scope.capitalize())


def for_registry(perms: Mapping[str, str]) -> dict[str, str]:
    """The scopes a cargohold job token carries, every one given explicitly."""
    return {s: perms.get(s, "none") for s in REGISTRY_SCOPES}


def owner_default_from(registry_perms: Mapping[str, str]) -> str:
    """Which owner default a server applied, judged by the packages level it returned."""
    return "permissive" if registry_perms.get("packages") == "write" else "restricted"
