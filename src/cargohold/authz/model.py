"""The values the permission decision is made of: plain, immutable data.

Nothing here reads a database or a request. The DB loader builds these values from the current
state (spec section 4: every request is authorized against the state at request time); ``decide``
in ``cargohold.authz.decide`` turns them into an ``Allowed`` or a ``Denied``.

Mappings passed in are copied into read-only ``MappingProxyType`` views and sets into
``frozenset``\\ s, so a value cannot change after the decision has looked at it. Because of those
mapping fields, ``Principal`` and ``PackageState`` compare by value but are not hashable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import Any

__all__ = [
    "ANONYMOUS",
    "ANONYMOUS_IDENTITY",
    "DELETE_PACKAGES",
    "JOB_LEVELS",
    "ORG_ROLES",
    "PAT_SCOPES",
    "READ_PACKAGES",
    "REPO_ROLES",
    "REPO_ROLE_TO_ROLE",
    "WRITE_PACKAGES",
    "AccountKind",
    "Action",
    "Credential",
    "CredentialKind",
    "Identity",
    "JobDefault",
    "JobPermission",
    "OrgRole",
    "OwnerState",
    "PackageState",
    "PatScope",
    "Principal",
    "PrincipalKind",
    "RepoRef",
    "RepoRole",
    "Role",
    "Visibility",
]


class Role(IntEnum):
    """A role on a package; ordered, so ``max`` and ``>=`` mean "at least"."""

    NONE = 0
    READ = 1
    WRITE = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        """The lower-case word used in messages, the CLI and the API: ``"none"`` .. ``"admin"``."""
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        """``"read"`` -> ``Role.READ`` (case and surrounding blanks ignored).

        Raises ``ValueError`` naming the accepted words for anything else.
        """
        try:
            return cls[text.strip().upper()]
        except KeyError:
            accepted = ", ".join(role.label for role in cls)
            raise ValueError(f"unknown role {text!r}: expected one of {accepted}") from None


class Action(StrEnum):
    """What a request wants to do to a package.

    ``ADMIN`` covers every settings change: visibility, linking, inheritance and both access lists.
    """

    PULL = "pull"
    PUSH = "push"
    DELETE = "delete"
    ADMIN = "admin"


class Visibility(StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"
    INTERNAL = "internal"


class PrincipalKind(StrEnum):
    ANONYMOUS = "anonymous"
    USER = "user"
    REPOSITORY = "repository"  # a CI job acts as its repository


class CredentialKind(StrEnum):
    NONE = "none"  # nothing presented: the request is anonymous
    PAT = "pat"  # personal access token, narrowed by its scopes
    JOB = "job"  # job token, narrowed by its ``packages:`` permission
    SESSION = "session"  # logged-in UI / admin CLI: the full power of its user, no narrowing


class PatScope(StrEnum):
    """The scopes a personal access token can carry (GitHub's package scopes)."""

    READ_PACKAGES = "read:packages"
    WRITE_PACKAGES = "write:packages"
    DELETE_PACKAGES = "delete:packages"


READ_PACKAGES = PatScope.READ_PACKAGES
WRITE_PACKAGES = PatScope.WRITE_PACKAGES
DELETE_PACKAGES = PatScope.DELETE_PACKAGES
PAT_SCOPES = tuple(PatScope)


class RepoRole(StrEnum):
    """Repository collaborator roles, lowest first."""

    READ = "read"
    TRIAGE = "triage"
    WRITE = "write"
    MAINTAIN = "maintain"
    ADMIN = "admin"


REPO_ROLES = tuple(RepoRole)

REPO_ROLE_TO_ROLE: Mapping[str, Role] = MappingProxyType(
    {
        RepoRole.READ: Role.READ,
        RepoRole.TRIAGE: Role.READ,
        RepoRole.WRITE: Role.WRITE,
        RepoRole.MAINTAIN: Role.WRITE,
        RepoRole.ADMIN: Role.ADMIN,
    }
)
"""How "Inherit access from source repository" maps repository roles to package roles."""


class OrgRole(StrEnum):
    OWNER = "owner"
    MEMBER = "member"


ORG_ROLES = tuple(OrgRole)


class AccountKind(StrEnum):
    USER = "user"
    ORG = "org"


class JobPermission(StrEnum):
    """The keys of a job's ``permissions:`` block that cargohold knows."""

    PACKAGES = "packages"
    CONTENTS = "contents"
    METADATA = "metadata"


JOB_LEVELS = (Role.NONE, Role.READ, Role.WRITE)
"""The levels a job permission can have (``none``, ``read``, ``write``)."""


class JobDefault(StrEnum):
    """An owner's default ``GITHUB_TOKEN`` permissions for jobs without a block."""

    RESTRICTED = "restricted"
    PERMISSIVE = "permissive"


def _frozen_map(value: Mapping[Any, Any]) -> Mapping[Any, Any]:
    return MappingProxyType(dict(value))


def _empty_map() -> Mapping[Any, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class RepoRef:
    """A repository by its stable id; ``full_name`` is only a label (names can be reused)."""

    id: int
    full_name: str
    owner_id: int


@dataclass(frozen=True)
class Principal:
    """Who is asking: anonymous, a user, or a repository (a CI job of it).

    ``org_roles`` maps organization account ids to ``"owner"`` or ``"member"``; ``team_ids`` are the
    teams the user belongs to. ``repo`` is set for ``REPOSITORY`` principals only.
    """

    kind: PrincipalKind
    user_id: int | None = None
    login: str | None = None
    site_admin: bool = False
    repo: RepoRef | None = None
    org_roles: Mapping[int, str] = field(default_factory=_empty_map)
    team_ids: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "org_roles", _frozen_map(self.org_roles))
        object.__setattr__(self, "team_ids", frozenset(self.team_ids))


ANONYMOUS = Principal(PrincipalKind.ANONYMOUS)


@dataclass(frozen=True)
class Credential:
    """What the principal authenticated with; it can only narrow the principal's power.

    ``id`` is the public token id (never the secret). ``scopes`` matter for PATs, ``packages`` for
    job tokens (``NONE``, ``READ`` or ``WRITE``); ``run_id`` names the CI run in messages.
    """

    kind: CredentialKind
    id: str | None = None
    scopes: frozenset[str] = frozenset()
    packages: Role = Role.NONE
    run_id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "scopes", frozenset(self.scopes))


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a request authenticated as: the principal and the credential it used."""

    principal: Principal
    credential: Credential

    @property
    def actor(self) -> str:
        """How the audit log and messages name the caller."""
        p = self.principal
        if p.kind is PrincipalKind.USER:
            return f"user {p.login}"
        if p.kind is PrincipalKind.REPOSITORY and p.repo is not None:
            return f"repository {p.repo.full_name}"
        return "anonymous"


ANONYMOUS_IDENTITY = Identity(ANONYMOUS, Credential(CredentialKind.NONE))


@dataclass(frozen=True)
class OwnerState:
    """The user or organization a package is scoped to, with the org's package settings.

    ``kind`` is ``"user"`` or ``"org"``. ``member_create_visibilities`` is the org's "Package
    creation" policy; ``inherit_default`` its "Inherit access from source repository" default for
    packages created by a job.
    """

    id: int
    login: str
    kind: str
    member_create_visibilities: frozenset[Visibility] = frozenset(Visibility)
    default_visibility: Visibility = Visibility.PRIVATE
    inherit_default: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "member_create_visibilities", frozenset(self.member_create_visibilities)
        )

    @property
    def is_org(self) -> bool:
        return self.kind == "org"


@dataclass(frozen=True)
class PackageState:
    """Everything about one package (existing or not) that the decision looks at.

    ``name`` is the full path (``"acme/shop"``, ``"acme/tools/cli"``). When ``exists`` is false
    only ``name`` and ``owner`` matter. ``linked_repo`` is ``None`` when the package is unlinked
    or when the linked repository was deleted. ``repo_user_roles`` / ``repo_team_roles`` are the
    linked repository's collaborators (repository roles, see ``REPO_ROLES``). ``deleted_repos``
    names the deleted repositories this package still refers to (link, publisher, Actions access),
    so a denial can explain the deleted-and-re-created trap.

    Optional additions for explanations: ``team_names`` (team id -> ``"org/team"``).
    """

    name: str
    owner: OwnerState
    exists: bool
    id: int | None = None
    visibility: Visibility = Visibility.PRIVATE
    publisher_user_id: int | None = None
    publisher_repo_id: int | None = None
    linked_repo: RepoRef | None = None
    inherit: bool = False
    user_grants: Mapping[int, Role] = field(default_factory=_empty_map)
    team_grants: Mapping[int, Role] = field(default_factory=_empty_map)
    actions_access: Mapping[int, Role] = field(default_factory=_empty_map)
    repo_user_roles: Mapping[int, str] = field(default_factory=_empty_map)
    repo_team_roles: Mapping[int, str] = field(default_factory=_empty_map)
    deleted_repos: Mapping[int, str] = field(default_factory=_empty_map)
    team_names: Mapping[int, str] = field(default_factory=_empty_map)
    # Soft-deleted (registry.lifecycle): it still exists for the decision (its name is
    # reserved), but it is neither pullable nor listed until restored.
    deleted: bool = False

    def __post_init__(self) -> None:
        for name in (
            "user_grants",
            "team_grants",
            "actions_access",
            "repo_user_roles",
            "repo_team_roles",
            "deleted_repos",
            "team_names",
        ):
            object.__setattr__(self, name, _frozen_map(getattr(self, name)))

    @property
    def short_name(self) -> str:
        """The name after the owner segment: ``"acme/tools/cli"`` -> ``"tools/cli"``."""
        _, _, rest = self.name.partition("/")
        return rest or self.name
