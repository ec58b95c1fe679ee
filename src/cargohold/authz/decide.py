"""The permission decision: one pure function from plain values to ``Allowed`` or ``Denied``.

Spec: docs/permissions.md, sections 2 to 5. The order of the checks is the contract::

    no credential (anonymous) --> public pull? Allowed : Denied UNAUTHORIZED (gate "authentication")
            |
    token gate (PAT scopes / job "packages:"; a session passes)
            |-- fails --> public pull? Allowed (anyone may read it) : Denied (gate "token")
            |
    package missing --> may_create? Allowed(ADMIN, creates=push)  [handler answers NAME_UNKNOWN
            |                                                      for anything but a push]
            |           otherwise: exactly the denial of an existing private package, role NONE
    role gate: effective_role >= needed (pull read, push write, delete/admin admin)
            |-- fails --> Denied (gate "role")
            Allowed

A credential only ever narrows: the token gate can refuse what the role gate would allow, never
the reverse. Existence does not leak: a principal that could neither create nor read a missing
package gets, byte for byte, the denial an existing private package without grants would give.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple, TypeAlias

from cargohold.authz import denials
from cargohold.authz.model import (
    ANONYMOUS,
    DELETE_PACKAGES,
    READ_PACKAGES,
    REPO_ROLE_TO_ROLE,
    WRITE_PACKAGES,
    Action,
    Credential,
    CredentialKind,
    PackageState,
    Principal,
    PrincipalKind,
    Role,
    Visibility,
)
from cargohold.errors import CargoholdError, DeniedError, UnauthorizedError

__all__ = [
    "DEFAULT_BASE_URL",
    "REQUIRED_ROLE",
    "SOURCE_KINDS",
    "Allowed",
    "Decision",
    "Denied",
    "Source",
    "decide",
    "effective_role",
    "explain",
    "may_create",
]

DEFAULT_BASE_URL = "http://localhost:5000"

REQUIRED_ROLE: Mapping[Action, Role] = MappingProxyType(
    {
        Action.PULL: Role.READ,
        Action.PUSH: Role.WRITE,
        Action.DELETE: Role.ADMIN,
        Action.ADMIN: Role.ADMIN,
    }
)
"""The role gate: the package role each action needs (spec section 4)."""

_ROLE_REASON = {
    Action.PULL: "read_package",
    Action.PUSH: "write_package",
    Action.DELETE: "delete_package",
    Action.ADMIN: "admin_package",
}

SOURCE_KINDS = (
    "owner",
    "site_admin",
    "publisher",
    "user_grant",
    "team_grant",
    "actions_access",
    "inherited",
    "linked_repository",
    "visibility",
)


@dataclass(frozen=True)
class Source:
    """One reason a principal holds a role; ``kind`` is one of ``SOURCE_KINDS``."""

    kind: str
    role: Role
    description: str


@dataclass(frozen=True)
class Allowed:
    """The request may go ahead.

    ``role`` is the principal's role on the package (before credential narrowing; for a public
    pull through a token that lacks read it is ``READ``). ``creates`` is true for the push that
    creates a missing package; for any other action on a missing package the handler answers
    ``NAME_UNKNOWN``/``MANIFEST_UNKNOWN``/``BLOB_UNKNOWN``.
    """

    role: Role
    sources: tuple[Source, ...]
    creates: bool = False


@dataclass(frozen=True)
class Denied:
    """The request is refused; everything a client, a log line or the audit log needs.

    ``code`` is ``"UNAUTHORIZED"`` (401) or ``"DENIED"`` (403); ``message`` begins with the GHCR
    text for ``reason`` (``denials.GHCR_TEXT``). ``gate`` is ``"authentication"``, ``"token"`` or
    ``"role"``. For the token gate ``held``/``needed`` are the token's package permission level;
    PAT denials add the exact ``scopes`` and ``scopes_needed`` to ``detail``. ``detail`` is a
    JSON-ready dict: actor, credential {kind, id}, package, action, gate, held, needed, reason,
    fix (plus per-reason extras).
    """

    code: str
    message: str
    gate: str
    reason: str
    held: Role
    needed: Role
    fix: tuple[str, ...]
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_error(self) -> CargoholdError:
        """The error to raise; the web layer adds the ``WWW-Authenticate`` challenge on 401."""
        error_type = UnauthorizedError if self.code == "UNAUTHORIZED" else DeniedError
        return error_type(self.message, dict(self.detail))


Decision: TypeAlias = Allowed | Denied


def effective_role(principal: Principal, package: PackageState) -> tuple[Role, tuple[Source, ...]]:
    """The role gate's view: the principal's role on ``package`` and every source of it.

    No credential narrowing. Sources are ordered highest role first (ties keep the order of spec
    section 2). For a package that does not exist only namespace-wide sources count (owner, site
    admin): a missing package is treated as private and without grants.
    """
    sources = sorted(_sources(principal, package), key=lambda source: -source.role)
    role = sources[0].role if sources else Role.NONE
    return role, tuple(sources)


def may_create(principal: Principal, package: PackageState) -> bool:
    """Whether a first push by ``principal`` may create a package in ``package.owner``'s namespace.

    Role level only (the token gate is separate) and independent of ``package.exists``: the owning
    user; an owner of the owning organization; a member of it when the organization's "Package
    creation" policy allows its default visibility; a job of a repository of the same owner; a
    site administrator.
    """
    owner = package.owner
    if principal.kind is PrincipalKind.REPOSITORY:
        return principal.repo is not None and principal.repo.owner_id == owner.id
    if principal.kind is not PrincipalKind.USER:
        return False
    if principal.site_admin:
        return True
    if not owner.is_org:
        return principal.user_id is not None and principal.user_id == owner.id
    org_role = principal.org_roles.get(owner.id)
    if org_role == "owner":
        return True
    return org_role is not None and owner.default_visibility in owner.member_create_visibilities


def decide(
    principal: Principal,
    credential: Credential,
    action: Action,
    package: PackageState,
    *,
    base_url: str = DEFAULT_BASE_URL,
) -> Decision:
    """Decide whether ``principal`` using ``credential`` may do ``action`` to ``package``.

    Pure: same inputs, same decision. A ``CredentialKind.NONE`` credential makes the request
    anonymous whatever the principal. See the module docstring for the order of the gates.
    """
    public_read = (
        action is Action.PULL and package.exists and package.visibility is Visibility.PUBLIC
    )
    if principal.kind is PrincipalKind.ANONYMOUS or credential.kind is CredentialKind.NONE:
        if public_read:
            return Allowed(Role.READ, (_public_source(package),))
        anonymous = _Request(ANONYMOUS, Credential(CredentialKind.NONE), action, package, base_url)
        text = denials.authentication_required(package, action, base_url)
        needed = REQUIRED_ROLE[action]
        return anonymous.deny("authentication", "authentication_required", Role.NONE, needed, text)

    request = _Request(principal, credential, action, package, base_url)
    token_denial = _token_gate(request)
    if token_denial is not None:
        # Spec section 4: public packages are readable with any valid credential.
        return Allowed(Role.READ, (_public_source(package),)) if public_read else token_denial

    if not package.exists and may_create(principal, package):
        role, sources = effective_role(principal, package)
        if role < Role.ADMIN:
            sources += (_creator_source(principal, package),)
        return Allowed(Role.ADMIN, sources, creates=action is Action.PUSH)

    role, sources = effective_role(principal, package)
    needed = REQUIRED_ROLE[action]
    if role >= needed:
        return Allowed(role, sources)
    return _role_denial(request, role, needed)


def explain(decision: Allowed) -> str:
    """One line for ``cargohold why``: the role and where it comes from, highest first."""
    if not decision.sources:
        line = f"{decision.role.label}: no source grants a role"
    else:
        reasons = "; ".join(f"{s.description} ({s.role.label})" for s in decision.sources)
        line = f"{decision.role.label}: {reasons}"
    return line + ("; this push creates the package" if decision.creates else "")


class _Request(NamedTuple):
    principal: Principal
    credential: Credential
    action: Action
    package: PackageState
    base_url: str

    def deny(self, gate: str, reason: str, held: Role, needed: Role, text: denials.Text) -> Denied:
        """The ``Denied`` for this request, its ``detail`` built from the same facts."""
        detail: dict[str, Any] = {
            "actor": denials.actor(self.principal),
            "credential": {"kind": self.credential.kind.value, "id": self.credential.id},
            "package": self.package.name,
            "action": self.action.value,
            "gate": gate,
            "held": held.label,
            "needed": needed.label,
            "reason": reason,
            "fix": list(text.fix),
        }
        detail.update(text.extra)
        code = "UNAUTHORIZED" if gate == "authentication" else "DENIED"
        return Denied(code, text.message, gate, reason, held, needed, text.fix, detail)


# -- token gate -------------------------------------------------------------------------------


def _token_gate(request: _Request) -> Denied | None:
    """``None`` if the credential carries the capability, else the token-gate denial."""
    principal, credential, action, package, _ = request
    if credential.kind is CredentialKind.PAT:
        scopes = credential.scopes
        can_read = READ_PACKAGES in scopes or WRITE_PACKAGES in scopes
        passes = {
            Action.PULL: can_read,
            Action.PUSH: WRITE_PACKAGES in scopes,
            Action.DELETE: DELETE_PACKAGES in scopes and can_read,
            Action.ADMIN: WRITE_PACKAGES in scopes,
        }[action]
        if passes:
            return None
        # held/needed: the token's package permission level; exact scopes go to ``detail``.
        held = Role.WRITE if WRITE_PACKAGES in scopes else Role.READ if can_read else Role.NONE
        needed = {Action.PULL: Role.READ, Action.DELETE: Role.READ}.get(action, Role.WRITE)
        text = denials.pat_scopes_denied(principal, credential, action, package)
        return request.deny("token", "scopes", held, needed, text)
    if credential.kind is CredentialKind.JOB:
        needed = Role.READ if action is Action.PULL else Role.WRITE
        if credential.packages >= needed:
            return None
        if action is Action.PULL:
            reason = "installation_read"
        elif action is Action.PUSH and not package.exists and may_create(principal, package):
            # "Create" only to a principal that may create here: to anyone else a missing
            # package must look like an existing one.
            reason = "installation_create"
        else:
            reason = "installation_write"  # also delete and settings: GHCR has no other text
        text = denials.job_token_denied(principal, credential, action, package, reason, needed)
        return request.deny("token", reason, credential.packages, needed, text)
    return None  # SESSION: the full power of its user


# -- role gate --------------------------------------------------------------------------------


def _role_denial(request: _Request, held: Role, needed: Role) -> Denied:
    principal, credential, action, package, base_url = request
    reason = _ROLE_REASON[action]
    if action is Action.PULL and principal.kind is PrincipalKind.REPOSITORY:
        reason = "installation_read"  # GHCR's text for a job whose repository cannot read
    if (
        action is Action.PUSH
        and held < Role.READ
        and principal.kind is PrincipalKind.USER
        and package.owner.is_org
        and package.owner.id in principal.org_roles
        and not may_create(principal, package)
    ):
        # A member of the owning organization whom its "Package creation" policy refuses, and
        # who cannot read the package. Members may see that policy, so naming it is fine; but
        # the answer must not depend on whether the package exists (security finding 6: it
        # once said create_package for a missing package and write_package for an existing
        # private one). So an existing package it cannot read gets the same create_package
        # denial, byte for byte, and its text holds in both worlds.
        text = denials.create_denied(principal, credential, package, base_url)
        return request.deny("role", "create_package", held, needed, text)
    predecessor = _predecessor(principal, package)
    text = denials.role_denied(
        principal, credential, package, reason, held, needed, base_url, predecessor
    )
    return request.deny("role", reason, held, needed, text)


def _predecessor(principal: Principal, package: PackageState) -> tuple[int, str] | None:
    """A deleted repository with the job repository's name that the package still refers to."""
    repo = principal.repo
    if principal.kind is not PrincipalKind.REPOSITORY or repo is None or not package.exists:
        return None
    for repo_id, full_name in sorted(package.deleted_repos.items()):
        if full_name == repo.full_name and repo_id != repo.id:
            return repo_id, full_name
    return None


# -- sources ----------------------------------------------------------------------------------


def _sources(principal: Principal, package: PackageState) -> Iterator[Source]:
    if principal.kind is PrincipalKind.USER:
        yield from _user_sources(principal, package)
    elif principal.kind is PrincipalKind.REPOSITORY:
        yield from _repo_sources(principal, package)
    if package.exists and package.visibility is Visibility.PUBLIC:
        yield _public_source(package)


def _user_sources(principal: Principal, package: PackageState) -> Iterator[Source]:
    uid = principal.user_id
    owner = package.owner
    if not owner.is_org and uid is not None and uid == owner.id:
        yield Source("owner", Role.ADMIN, f"owns the namespace {owner.login}")
    if owner.is_org and principal.org_roles.get(owner.id) == "owner":
        yield Source("owner", Role.ADMIN, f"owner of organization {owner.login}")
    if principal.site_admin:
        yield Source("site_admin", Role.ADMIN, "site administrator")
    if not package.exists:
        return
    if uid is not None and package.publisher_user_id == uid:
        yield Source("publisher", Role.ADMIN, f"published {package.name} (its first push)")
    granted = package.user_grants.get(uid) if uid is not None else None
    if granted:
        yield Source("user_grant", granted, f"granted {granted.label} in Manage access")
    teams = sorted(principal.team_ids)
    if owner.is_org:
        for team_id in teams:
            granted = package.team_grants.get(team_id)
            if granted:
                why = f"member of team {_team(package, team_id)}, granted {granted.label}"
                yield Source("team_grant", granted, f"{why} in Manage access")
    linked = package.linked_repo
    if package.inherit and linked is not None:
        on_repo = f"on linked repository {linked.full_name}, inherited as"
        repo_role = package.repo_user_roles.get(uid, "") if uid is not None else ""
        mapped = REPO_ROLE_TO_ROLE.get(repo_role)
        if mapped:
            yield Source("inherited", mapped, f"{repo_role} {on_repo} {mapped.label}")
        for team_id in teams:
            repo_role = package.repo_team_roles.get(team_id, "")
            mapped = REPO_ROLE_TO_ROLE.get(repo_role)
            if mapped:
                team = f"member of team {_team(package, team_id)}, which has {repo_role}"
                yield Source("inherited", mapped, f"{team} {on_repo} {mapped.label}")
    if (
        package.visibility is Visibility.INTERNAL
        and owner.is_org
        and owner.id in principal.org_roles
    ):
        yield Source(
            "visibility",
            Role.READ,
            f"package is internal: members of organization {owner.login} may read it",
        )


def _repo_sources(principal: Principal, package: PackageState) -> Iterator[Source]:
    repo = principal.repo
    if repo is None or not package.exists:
        return
    if package.publisher_repo_id == repo.id:
        yield Source(
            "publisher", Role.ADMIN, f"repository {repo.full_name} published {package.name}"
        )
    granted = package.actions_access.get(repo.id)
    if granted:
        yield Source(
            "actions_access",
            granted,
            f"repository {repo.full_name} granted {granted.label} in Manage Actions access",
        )
    linked = package.linked_repo
    if package.inherit and linked is not None and linked.id == repo.id:
        # Inheritance gives the linked repository's own jobs write (spec section 2).
        yield Source(
            "linked_repository",
            Role.WRITE,
            f"job of the linked repository {repo.full_name}, which inherits write",
        )
    if package.visibility is Visibility.INTERNAL and repo.owner_id == package.owner.id:
        yield Source(
            "visibility",
            Role.READ,
            f"package is internal: repository {repo.full_name} belongs to {package.owner.login}",
        )


def _public_source(package: PackageState) -> Source:
    return Source("visibility", Role.READ, f"package {package.name} is public: anyone may read it")


def _creator_source(principal: Principal, package: PackageState) -> Source:
    return Source(
        "publisher",
        Role.ADMIN,
        f"{denials.actor(principal)} may create {package.name} in namespace"
        f" {package.owner.login}; its first push makes it the publisher (admin)",
    )


def _team(package: PackageState, team_id: int) -> str:
    return package.team_names.get(team_id) or f"#{team_id}"
