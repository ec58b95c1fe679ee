"""The words of a denial: GHCR's exact texts, then one explanation and the fix.

Spec section 5: a denial message begins with GHCR's text verbatim (scripts match on it), then
goes on with one sentence naming who was refused, the package, the role held and the role
needed, and how to fix it. ``decide`` chooses *which* denial; this module only writes it, so
every function here is a pure function of its arguments.

Existence must not leak: nothing written here may depend on whether the package exists, unless
the principal could create or read it. ``create_denied`` names the package-creation policy, which
members of the owning organization may see; ``decide`` gives it to such a member who can neither
create nor read the package whether or not the package exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from cargohold.authz.model import (
    DELETE_PACKAGES,
    READ_PACKAGES,
    WRITE_PACKAGES,
    Action,
    Credential,
    CredentialKind,
    PackageState,
    Principal,
    PrincipalKind,
    Role,
)

__all__ = [
    "GHCR_TEXT",
    "UNAUTHENTICATED_TEXT",
    "Text",
    "actor",
    "authentication_required",
    "create_denied",
    "grant_command",
    "job_token_denied",
    "org_settings_url",
    "pat_scopes_denied",
    "role_denied",
    "settings_url",
    "who",
]

GHCR_TEXT: Mapping[str, str] = MappingProxyType(
    {
        "authentication_required": "authentication required",
        "scopes": "permission_denied: The token provided does not match expected scopes.",
        "installation_write": "installation not allowed to Write organization package",
        "installation_create": "installation not allowed to Create organization package",
        "installation_read": "installation not allowed to Read organization package",
        "read_package": "permission_denied: read_package",
        "write_package": "permission_denied: write_package",
        "create_package": "permission_denied: create_package",
        "delete_package": "permission_denied: delete_package",
        # Not a GHCR text (GHCR has no registry API for settings); same shape as its siblings.
        "admin_package": "permission_denied: admin_package",
    }
)
"""Reason -> the exact text a denial message begins with (spec section 5)."""

UNAUTHENTICATED_TEXT = "unauthenticated: User cannot be authenticated with the token provided."
"""For authentication (credential unknown, expired or revoked); not produced by ``decide``."""

_VERBING = {
    Action.PULL: "pulling",
    Action.PUSH: "pushing to",
    Action.DELETE: "deleting",
    Action.ADMIN: "changing the settings of",
}
_CAN = {Action.PULL: "read", Action.PUSH: "write", Action.DELETE: "delete", Action.ADMIN: "admin"}
_PAT_SCOPES_NEEDED = {
    Action.PULL: (READ_PACKAGES,),
    Action.PUSH: (READ_PACKAGES, WRITE_PACKAGES),
    Action.DELETE: (READ_PACKAGES, DELETE_PACKAGES),
    Action.ADMIN: (READ_PACKAGES, WRITE_PACKAGES),
}


@dataclass(frozen=True)
class Text:
    """A written denial: the full message, the fix list, and extra ``detail`` entries."""

    message: str
    fix: tuple[str, ...]
    extra: Mapping[str, Any] = field(default_factory=dict)


def _join(prefix: str, sentence: str) -> str:
    # GHCR's text stays byte-for-byte first. After the one text that ends a sentence itself
    # ("...expected scopes.") a blank reads better than ": "; the prefix match is the same.
    return f"{prefix} {sentence}" if prefix.endswith(".") else f"{prefix}: {sentence}"


def actor(principal: Principal) -> str:
    """``"user alice"``, ``"repository acme/shop"`` or ``"anonymous"``."""
    if principal.kind is PrincipalKind.USER:
        return f"user {_login(principal)}"
    if principal.kind is PrincipalKind.REPOSITORY:
        name = principal.repo.full_name if principal.repo is not None else "(unknown)"
        return f"repository {name}"
    return "anonymous"


def who(principal: Principal, credential: Credential) -> str:
    """The actor and its credential: ``"user alice (personal access token chp_abc123)"``."""
    kind = credential.kind
    if principal.kind is PrincipalKind.ANONYMOUS or kind is CredentialKind.NONE:
        return "anonymous"
    if kind is CredentialKind.PAT:
        what = "personal access token" + (f" {credential.id}" if credential.id else "")
    elif kind is CredentialKind.JOB:
        what = "job token" + (f", run {credential.run_id}" if credential.run_id else "")
    else:
        what = "session"
    return f"{actor(principal)} ({what})"


def settings_url(base_url: str, package: PackageState, section: str) -> str:
    """``{base_url}/{owner}/packages/{name after owner}/settings#{section}``."""
    base = base_url.rstrip("/")
    return f"{base}/{package.owner.login}/packages/{package.short_name}/settings#{section}"


def org_settings_url(base_url: str, package: PackageState) -> str:
    """The owning organization's package settings ("Package creation")."""
    return f"{base_url.rstrip('/')}/orgs/{package.owner.login}/settings/packages"


def grant_command(package: PackageState, principal: Principal, role: Role) -> str:
    """The CLI command that grants ``principal`` ``role`` on ``package``."""
    if principal.kind is PrincipalKind.REPOSITORY and principal.repo is not None:
        target = f"actions-access add {package.name} --repository {principal.repo.full_name}"
    else:
        target = f"access add {package.name} --user {_login(principal)}"
    return f"cargohold package {target} --role {role.label}"


def authentication_required(package: PackageState, action: Action, base_url: str) -> Text:
    """No credential and the package is not readable anonymously (or the action is not a pull)."""
    host = urlsplit(base_url).netloc or base_url
    scopes = ",".join(_PAT_SCOPES_NEEDED[action])
    sentence = (
        f"anonymous requests may only pull public packages; {_VERBING[action]} {package.name} "
        f"needs a login with a token that can {_CAN[action]} it, e.g. `docker login {host}`."
    )
    fix = (f"docker login {host}", f"cargohold token create --user LOGIN --scopes {scopes}")
    return Text(_join(GHCR_TEXT["authentication_required"], sentence), fix)


def pat_scopes_denied(
    principal: Principal, credential: Credential, action: Action, package: PackageState
) -> Text:
    """Token gate, personal access token: the scopes do not cover the action."""
    needed = _PAT_SCOPES_NEEDED[action]
    held = sorted(credential.scopes)
    if action is Action.PULL:
        missing = [READ_PACKAGES]
    else:
        missing = [scope for scope in needed if scope not in credential.scopes]
        if action is Action.DELETE and WRITE_PACKAGES in credential.scopes:
            missing = [scope for scope in missing if scope != READ_PACKAGES]
    has = "has scopes " + ",".join(held) if held else "has no package scopes"
    command = f"cargohold token create --user {_login(principal)} --scopes {','.join(needed)}"
    sentence = (
        f"{who(principal, credential)} {has}; {_VERBING[action]} {package.name} needs "
        f"{' and '.join(needed)}. Create a token with {' and '.join(missing)}: `{command}`."
    )
    extra = {"scopes": held, "scopes_needed": list(needed)}
    return Text(_join(GHCR_TEXT["scopes"], sentence), (command,), extra)


def job_token_denied(
    principal: Principal,
    credential: Credential,
    action: Action,
    package: PackageState,
    reason: str,
    needed: Role,
) -> Text:
    """Token gate, job token: its ``packages:`` permission is too low for the action."""
    step = f'add "permissions: packages: {needed.label}" to the job'
    sentence = (
        f'{who(principal, credential)} has "packages: {credential.packages.label}" on its '
        f'token; {_VERBING[action]} {package.name} needs "packages: {needed.label}". '
        f"{step[0].upper()}{step[1:]}."
    )
    return Text(
        _join(GHCR_TEXT[reason], sentence), (step,), {"packages": credential.packages.label}
    )


def role_denied(
    principal: Principal,
    credential: Credential,
    package: PackageState,
    reason: str,
    held: Role,
    needed: Role,
    base_url: str,
    predecessor: tuple[int, str] | None = None,
) -> Text:
    """Role gate: the principal (user, or the job's repository) holds less than ``needed``.

    ``predecessor`` is a deleted repository of the same name the package's access still refers
    to (deleted and re-created repository): the sentence then says that access follows ids.
    """
    holds = "holds no role" if held is Role.NONE else f"holds {held.label}"
    job = principal.kind is PrincipalKind.REPOSITORY
    section = "actions-access" if job else "manage-access"
    page = "Manage Actions access" if job else "Manage access"
    url = settings_url(base_url, package, section)
    command = grant_command(package, principal, needed)
    sentence = (
        f"{who(principal, credential)} {holds} on package {package.name}; it needs {needed.label}."
    )
    extra: dict[str, Any] = {}
    to_whom = "it"
    if predecessor is not None and principal.repo is not None:
        old_id, old_name = predecessor
        sentence += (
            f" The package's access was granted to an earlier repository {old_name} (id {old_id})"
            " that was deleted; access follows repository ids, not names."
        )
        to_whom = f"it to the new repository (id {principal.repo.id})"
        extra["deleted_repository"] = {"id": old_id, "full_name": old_name}
    sentence += (
        f" An admin of {package.name} can grant {to_whom}: Package settings > {page} ({url}),"
        f" or `{command}`."
    )
    return Text(_join(GHCR_TEXT[reason], sentence), (command, url), extra)


def create_denied(
    principal: Principal, credential: Credential, package: PackageState, base_url: str
) -> Text:
    """An organization member whom the "Package creation" policy refuses and who cannot read
    the package. The same text whether or not the package exists (existence must not leak), so
    the fix covers both: change the policy, or grant the package once it exists."""
    owner = package.owner
    allowed = sorted(v.value for v in owner.member_create_visibilities)
    policy = (
        f"members of organization {owner.login} may create only {' or '.join(allowed)} packages"
        if allowed
        else f"members of organization {owner.login} may not create packages"
    )
    url = org_settings_url(base_url, package)
    command = grant_command(package, principal, Role.WRITE)
    sentence = (
        f"{who(principal, credential)} holds no role on package {package.name} and may not create"
        f" it: {policy}, and new packages there are {owner.default_visibility.value}; it needs"
        f" write. An owner of {owner.login} can allow members to create"
        f" {owner.default_visibility.value} packages (Organization settings > Packages >"
        f" Package creation, {url}), or an admin of {package.name} can grant it (once it"
        f" exists): `{command}`."
    )
    extra = {"member_create_visibilities": allowed}
    return Text(_join(GHCR_TEXT["create_package"], sentence), (command, url), extra)


def _login(principal: Principal) -> str:
    if principal.login:
        return principal.login
    return f"#{principal.user_id}" if principal.user_id is not None else "LOGIN"
