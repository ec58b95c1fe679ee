"""GitHub's JSON shapes for packages and versions, and their JSON schemas (for OpenAPI)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from cargohold.accounts.account_service import Account
from cargohold.authz.model import AccountKind
from cargohold.registry.read_model import PackageView, VersionView

JSON = dict[str, Any]


def iso(at: datetime | None) -> str | None:
    return None if at is None else at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _scope(owner: Account) -> str:
    return "orgs" if owner.kind is AccountKind.ORG else "users"


def owner_json(owner: Account, base: str) -> JSON:
    scope = _scope(owner)
    return {
        "login": owner.login,
        "id": owner.id,
        "type": "Organization" if owner.kind is AccountKind.ORG else "User",
        "site_admin": owner.site_admin,
        "url": f"{base}/api/v3/{scope}/{owner.login}",
        "html_url": f"{base}/{owner.login}",
    }


def package_api_url(view: PackageView, base: str) -> str:
    name = quote(view.short_name, safe="")
    return f"{base}/api/v3/{_scope(view.owner)}/{view.owner.login}/packages/container/{name}"


def package_html_url(view: PackageView, base: str) -> str:
    name = quote(view.short_name, safe="")
    return f"{base}/{_scope(view.owner)}/{view.owner.login}/packages/container/package/{name}"


def package_json(view: PackageView, base: str) -> JSON:
    out: JSON = {
        "id": view.id,
        "name": view.short_name,
        "package_type": "container",
        "owner": owner_json(view.owner, base),
        "version_count": view.version_count,
        "visibility": view.visibility.value,
        "url": package_api_url(view, base),
        "html_url": package_html_url(view, base),
        "created_at": iso(view.created_at),
        "updated_at": iso(view.updated_at),
    }
    if view.repository is not None:
        owner_login, _, repo = view.repository.full_name.partition("/")
        out["repository"] = {
            "id": view.repository.id,
            "name": repo,
            "full_name": view.repository.full_name,
            "private": view.repository.visibility.value != "public",
            "visibility": view.repository.visibility.value,
            "html_url": f"{base}/{view.repository.full_name}",
            "owner": {"login": owner_login},
        }
    if view.deleted_at is not None:
        out["deleted_at"] = iso(view.deleted_at)
    return out


def version_json(version: VersionView, view: PackageView, base: str) -> JSON:
    url = package_api_url(view, base)
    out: JSON = {
        "id": version.id,
        "name": version.digest,
        "url": f"{url}/versions/{version.id}",
        "package_html_url": package_html_url(view, base),
        "html_url": f"{package_html_url(view, base)}/{version.id}",
        "created_at": iso(version.created_at),
        "updated_at": iso(version.created_at),
        "metadata": {"package_type": "container", "container": {"tags": list(version.tags)}},
        "media_type": version.media_type,
        "size": version.size,
    }
    if version.deleted_at is not None:
        out["deleted_at"] = iso(version.deleted_at)
    return out


# -- JSON schemas -----------------------------------------------------------------------------

STR: JSON = {"type": "string"}
INT: JSON = {"type": "integer"}
BOOL: JSON = {"type": "boolean"}
TIME: JSON = {"type": "string", "format": "date-time"}
NULL_STR: JSON = {"type": ["string", "null"]}

OWNER: JSON = {
    "type": "object",
    "required": ["login", "id", "type"],
    "properties": {
        "login": STR,
        "id": INT,
        "type": {"enum": ["User", "Organization"]},
        "site_admin": BOOL,
        "url": STR,
        "html_url": STR,
    },
}

PACKAGE: JSON = {
    "type": "object",
    "required": [
        "id",
        "name",
        "package_type",
        "owner",
        "version_count",
        "visibility",
        "url",
        "html_url",
        "created_at",
        "updated_at",
    ],
    "properties": {
        "id": INT,
        "name": STR,
        "package_type": {"enum": ["container"]},
        "owner": OWNER,
        "version_count": INT,
        "visibility": {"enum": ["public", "private", "internal"]},
        "url": STR,
        "html_url": STR,
        "created_at": TIME,
        "updated_at": TIME,
        "deleted_at": TIME,
        "repository": {
            "type": "object",
            "required": ["id", "name", "full_name"],
            "properties": {"id": INT, "name": STR, "full_name": STR, "private": BOOL},
        },
    },
}

VERSION: JSON = {
    "type": "object",
    "required": ["id", "name", "url", "created_at", "updated_at", "metadata"],
    "properties": {
        "id": INT,
        "name": STR,
        "url": STR,
        "package_html_url": STR,
        "html_url": STR,
        "created_at": TIME,
        "updated_at": TIME,
        "deleted_at": TIME,
        "media_type": STR,
        "size": INT,
        "metadata": {
            "type": "object",
            "required": ["package_type", "container"],
            "properties": {
                "package_type": {"enum": ["container"]},
                "container": {
                    "type": "object",
                    "required": ["tags"],
                    "properties": {"tags": {"type": "array", "items": STR}},
                },
            },
        },
    },
}

ERROR: JSON = {
    "type": "object",
    "required": ["message", "documentation_url"],
    "properties": {
        "message": STR,
        "documentation_url": STR,
        "status": STR,
        "code": STR,
        "detail": {},
    },
}

ROLE: JSON = {"enum": ["read", "write", "admin"]}

SETTINGS: JSON = {
    "type": "object",
    "required": ["name", "visibility", "inherit", "access", "actions_access"],
    "properties": {
        "name": STR,
        "visibility": {"enum": ["public", "private", "internal"]},
        "linked_repository": NULL_STR,
        "inherit": BOOL,
        "access": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["role"],
                "properties": {"user": STR, "team": STR, "role": ROLE},
            },
        },
        "actions_access": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["repository", "repository_id", "role"],
                "properties": {"repository": STR, "repository_id": INT, "role": ROLE},
            },
        },
    },
}


def array(items: JSON) -> JSON:
    return {"type": "array", "items": items}


def obj(required: list[str], **properties: JSON) -> JSON:
    return {"type": "object", "required": required, "properties": properties}
