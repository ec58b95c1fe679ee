"""Package settings: visibility, link, inheritance, "Manage access", "Manage Actions access".

GHCR offers these only in its web UI; cargohold offers them to the CLI and the REST API through
these functions. Callers authorize first (``Action.ADMIN`` on the package).
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, select, update

from cargohold.accounts import service
from cargohold.db import schema as s
from cargohold.db.raw import Reader
from cargohold.db.tx import upsert
from cargohold.errors import InvalidRequestError, NotFoundError
from cargohold.registry import packages

PACKAGE_ROLES = ("read", "write", "admin")


def require(conn: Connection, name: str) -> packages.PackageRow:
    row = packages.find(Reader.over(conn), name)
    if row is None:
        raise NotFoundError(f"no package {name!r}")
    return row


def _role(role: str) -> str:
    if role not in PACKAGE_ROLES:
        raise InvalidRequestError(f"invalid package role {role!r}: read, write or admin")
    return role


def set_visibility(conn: Connection, name: str, visibility: str) -> None:
    if visibility not in service.VISIBILITIES:
        raise InvalidRequestError(f"invalid visibility {visibility!r}: public, private or internal")
    row = require(conn, name)
    conn.execute(update(s.packages).where(s.packages.c.id == row.id).values(visibility=visibility))


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
    conn.execute(update(s.packages).where(s.packages.c.id == row.id).values(linked_repo_id=repo_id))


def set_inherit(conn: Connection, name: str, on: bool) -> None:
    row = require(conn, name)
    conn.execute(update(s.packages).where(s.packages.c.id == row.id).values(inherit=on))


def grant(
    conn: Connection, name: str, role: str, *, user: str | None = None, team: str | None = None
) -> None:
    """Manage access: give a user or (org packages only) a team a role."""
    if (user is None) == (team is None):
        raise InvalidRequestError("give exactly one of --user or --team")
    row = require(conn, name)
    _role(role)
    uid = service.require_account(conn, user, "user") if user else None
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
            s.package_grants.insert().values(package_id=row.id, user_id=uid, team_id=tid, role=role)
        )
    else:
        conn.execute(update(s.package_grants).where(g.id == existing).values(role=role))


def revoke_grant(
    conn: Connection, name: str, *, user: str | None = None, team: str | None = None
) -> None:
    row = require(conn, name)
    g = s.package_grants.c
    if user is not None:
        cond = g.user_id == service.require_account(conn, user, "user")
    elif team is not None:
        cond = g.team_id == service.team_id(conn, team)
    else:
        raise InvalidRequestError("give exactly one of --user or --team")
    if conn.execute(delete(s.package_grants).where(g.package_id == row.id, cond)).rowcount == 0:
        raise NotFoundError("no such grant")


def add_actions_access(conn: Connection, name: str, repository: str, role: str) -> None:
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


def describe(conn: Connection, name: str) -> dict[str, object]:
    """Everything on the package's settings page, as data."""
    row = require(conn, name)
    db = Reader.over(conn)
    visibility, inherit, linked_id, linked_owner, linked_name, linked_deleted = (
        db.one(
            "SELECT p.visibility, p.inherit, r.id, o.login, r.name, r.deleted_at FROM packages p"
            " LEFT JOIN repositories r ON r.id = p.linked_repo_id"
            " LEFT JOIN accounts o ON o.id = r.owner_id WHERE p.id = :p",
            p=row.id,
        )
        or (None,) * 6
    )
    grants = [
        {"user": user, "role": role} if user else {"team": f"{org}/{team}", "role": role}
        for user, team, org, role in db.all(
            "SELECT u.login, t.slug, o.login, g.role FROM package_grants g"
            " LEFT JOIN accounts u ON u.id = g.user_id LEFT JOIN teams t ON t.id = g.team_id"
            " LEFT JOIN accounts o ON o.id = t.org_id WHERE g.package_id = :p ORDER BY g.id",
            p=row.id,
        )
    ]
    actions = [
        {"repository": _repo_label(o, n, d, rid), "repository_id": rid, "role": role}
        for rid, o, n, d, role in db.all(
            "SELECT r.id, o.login, r.name, r.deleted_at, x.role FROM package_actions_access x"
            " JOIN repositories r ON r.id = x.repo_id JOIN accounts o ON o.id = r.owner_id"
            " WHERE x.package_id = :p ORDER BY r.id",
            p=row.id,
        )
    ]
    linked = (
        _repo_label(linked_owner, linked_name, linked_deleted, linked_id) if linked_id else None
    )
    return {
        "name": name,
        "visibility": visibility,
        "linked_repository": linked,
        "inherit": bool(inherit),
        "access": grants,
        "actions_access": actions,
    }
