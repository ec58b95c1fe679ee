"""The UI's URLs, shaped like GitHub's, built in one place.

A package name after its owner may contain slashes (``acme/tools/cli``); as GitHub does, links
encode them as ``%2F`` (``/orgs/acme/packages/container/package/tools%2Fcli``) and the routes
accept both the encoded and the nested form.
"""

from __future__ import annotations

from urllib.parse import quote

SECTIONS = (
    "repository-source",
    "inherit-access",
    "actions-access",
    "manage-access",
    "effective-access",
    "danger-zone",
)
"""The settings page's anchors (``authz.denials`` links to ``actions-access`` and
``manage-access``)."""


def owner_root(owner: str, kind: str) -> str:
    return f"/{'orgs' if kind == 'org' else 'users'}/{quote(owner, safe='')}"


def packages(owner: str, kind: str) -> str:
    return f"{owner_root(owner, kind)}/packages"


def package(owner: str, kind: str, short_name: str) -> str:
    return f"{packages(owner, kind)}/container/package/{quote(short_name, safe='')}"


def settings(owner: str, kind: str, short_name: str, section: str | None = None) -> str:
    url = f"{packages(owner, kind)}/container/{quote(short_name, safe='')}/settings"
    return f"{url}#{section}" if section else url


def settings_action(owner: str, kind: str, short_name: str, action: str) -> str:
    return f"{settings(owner, kind, short_name)}/{action}"


def audit(owner: str, kind: str, short_name: str) -> str:
    return f"{packages(owner, kind)}/container/{quote(short_name, safe='')}/audit"
