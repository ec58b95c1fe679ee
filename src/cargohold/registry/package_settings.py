"""Package settings in one transaction: visibility, link, inheritance, "Manage access",
"Manage Actions access", and the settings page as data.

Callers authorize first (``Action.ADMIN`` on the package); ``PackageSettingsService`` does so
for an acting identity.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, select, update

from cargohold.accounts import service
from cargohold.authz.model import AccountKind, Role, Visibility
from cargohold.db import schema as s
from cargohold.db.raw import Reader
from cargohold.db.tx import upsert
from cargohold.errors import InvalidRequestError, NotFoundError
from cargohold.registry import packages

PACKAGE_ROLES = (Role.READ, Role.WRITE, Role.ADMIN)
"""The roles a grant can give (``Role.NONE`` is no grant)."""


@dataclass(frozen=True, slots=True)
class Grant:
    """One "Manage access" entry: a user or a team (``org/team``) and its role."""

    role: Role
    user: str | None = None
    team: str | None = None


@dataclass(frozen=True, slots=True)
class ActionsAccess:
    repository: str  # "owner/name", with " (deleted, id N)" when the repository was deleted
    repository_id: int
    role: Role


@dataclass(frozen=True, slots=True)
class PackageSettings:
    """Everything on a package's settings page."""

    name: str
    visibility: Visibility
    linked_repository: str | None
    inherit: bool
    access: tuple[Grant, ...]
    actions_access: tuple[ActionsAccess, ...]

    def as_dict(self) -> dict[str, object]:
        """The JSON shape the CLI and the APIs print."""
        return {
            "name": self.name,
            "visibility": self.visibility.value,
            "linked_repository": self.linked_repository,
            "inherit": self.inherit,
            "access": [
                {"user": g.user, "role": g.role.label}
                if g.user
                else {"team": g.team, "role": g.role.label}
                for g in self.access
            ],
            "actions_access": [
                {"repository": a.repository, "repository_id": a.repository_id, "role": a.role.label}
                for a in self.actions_access
            ],
        }


def require(conn: Connection, name: str) -> packages.PackageRow:
    row = packages.find(Reader.over(conn), name)
    if row is None:
        raise NotFoundError(f"no package {name!r}")
    return row


def _role(role: Role) -> str:
    if role not in PACKAGE_ROLES:
        raise InvalidRequestError(f"invalid package role {role.label!r}: read, write or admin")
    return role.label


def set_visibility(conn: Connection, name: str, visibility: Visibility) -> None:
    row = require(conn, name)
    conn.execute(
        update(s.packages).where(s.packages.c.id == row.id).values(visibility=visibility.value)
    )


def link(conn: Connection, name: str, repository: str | None) -> None:
    """Link to a live repository of the same owner (None unlinks). Inheritance is unchanged."""
    row = require(conn, name)
    repo_id = None
    if repository is not None:
        repo_id = service.repo_id(conn, repository)
        owner = conn.execute(
            select(s.repositories.c.owner_id).where(s.repositories.c.id == repo_id)
        ).scalar_one()
        if owner != row.owner_id:
            raise InvalidRequestError(
                f"package {name} can only be linked to a repository of its own owner"
            )
    conn.execute(
        update(s.packages)
        .where(s.packages.c.id == row.id)
        .values(linked_repo_id=repo_id, source_link_pending=False)
    )


def set_inherit(conn: Connection, name: str, on: bool) -> None:
    row = require(conn, name)
    conn.execute(update(s.packages).where(s.packages.c.id == row.id).values(inherit=on))


def grant(
    conn: Connection, name: str, role: Role, *, user: str | None = None, team: str | None = None
) -> None:
    """Manage access: give a user or (org packages only) a team a role."""
    if (user is None) == (team is None):
        raise InvalidRequestError("give exactly one of --user or --team")
    row = require(conn, name)
    label = _role(role)
    uid = service.require_account(conn, user, AccountKind.USER) if user else None
    tid = service.team_id(conn, team) if team else None
    if tid is not None:
        org = team.partition("/")[0] if team else ""
        if service.account_id(conn, org) != row.owner_id:
            raise InvalidRequestError(
                "a team can be granted access only to its organization's packages"
            )
    g = s.package_grants.c
    existing = conn.execute(
        select(g.id).where(
            g.package_id == row.id,
            g.user_id.is_(None) if uid is None else g.user_id == uid,
            g.team_id.is_(None) if tid is None else g.team_id == tid,
        )
    ).scalar()
    if existing is None:
        conn.execute(
            s.package_grants.insert().values(
                package_id=row.id, user_id=uid, team_id=tid, role=label
            )
        )
    else:
        conn.execute(update(s.package_grants).where(g.id == existing).values(role=label))


def revoke_grant(
    conn: Connection, name: str, *, user: str | None = None, team: str | None = None
) -> None:
    row = require(conn, name)
    g = s.package_grants.c
    if user is not None:
        cond = g.user_id == service.require_account(conn, user, AccountKind.USER)
    elif team is not None:
        cond = g.team_id == service.team_id(conn, team)
    else:
        raise InvalidRequestError("give exactly one of --user or --team")
    if conn.execute(delete(s.package_grants).where(g.package_id == row.id, cond)).rowcount == 0:
        raise NotFoundError("no such grant")


def add_actions_access(conn: Connection, name: str, repository: str, role: Role) -> None:
    """Manage Actions access: the live repository ``repository`` gets ``role``."""
    row = require(conn, name)
    repo_id = service.repo_id(conn, repository)
    upsert(
        conn,
        s.package_actions_access,
        ("package_id", "repo_id"),
        package_id=row.id,
        repo_id=repo_id,
        role=_role(role),
    )


def remove_actions_access(conn: Connection, name: str, repository: str) -> None:
    row = require(conn, name)
    repo_id = service.repo_id(conn, repository)
    a = s.package_actions_access.c
    if (
        conn.execute(
            delete(s.package_actions_access).where(a.package_id == row.id, a.repo_id == repo_id)
        ).rowcount
        == 0
    ):
        raise NotFoundError(f"{repository} has no Actions access to {name}")


def _repo_label(owner: str, name: str, deleted: object, repo_id: int) -> str:
    return f"{owner}/{name}" + (f" (deleted, id {repo_id})" if deleted is not None else "")


def describe(conn: Connection, name: str) -> PackageSettings:
    """Everything on the package's settings page."""
    found = require(conn, name)
    p, r = s.packages.c, s.repositories.c
    owners = s.accounts.alias("o")
    pkg = conn.execute(
        select(p.visibility, p.inherit, r.id, owners.c.login, r.name, r.deleted_at)
        .select_from(
            s.packages.outerjoin(s.repositories, r.id == p.linked_repo_id).outerjoin(
                owners, owners.c.id == r.owner_id
            )
        )
        .where(p.id == found.id)
    ).one()
    users, teams, orgs = s.accounts.alias("u"), s.teams.alias("t"), s.accounts.alias("org")
    g = s.package_grants.c
    grants = tuple(
        Grant(Role.parse(row.role), user=row.user)
        if row.user
        else Grant(Role.parse(row.role), team=f"{row.org}/{row.slug}")
        for row in conn.execute(
            select(users.c.login.label("user"), teams.c.slug, orgs.c.login.label("org"), g.role)
            .select_from(
                s.package_grants.outerjoin(users, users.c.id == g.user_id)
                .outerjoin(teams, teams.c.id == g.team_id)
                .outerjoin(orgs, orgs.c.id == teams.c.org_id)
            )
            .where(g.package_id == found.id)
            .order_by(g.id)
        )
    )
    x = s.package_actions_access.c
    actions = tuple(
        ActionsAccess(
            _repo_label(row.login, row.name, row.deleted_at, row.id), row.id, Role.parse(row.role)
        )
        for row in conn.execute(
            select(r.id, s.accounts.c.login, r.name, r.deleted_at, x.role)
            .join_from(s.package_actions_access, s.repositories, r.id == x.repo_id)
            .join(s.accounts, s.accounts.c.id == r.owner_id)
            .where(x.package_id == found.id)
            .order_by(r.id)
        )
    )
    linked = (
        _repo_label(pkg.login, pkg.name, pkg.deleted_at, pkg.id) if pkg.id is not None else None
    )
    return PackageSettings(
        name=name,
        visibility=Visibility(pkg.visibility),
        linked_repository=linked,
        inherit=bool(pkg.inherit),
        access=grants,
        actions_access=actions,
    )
