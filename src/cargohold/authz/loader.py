"""Loads the plain data the pure decision needs, from the current database state.

Called on every request, so a grant or revocation made by any process (the CLI, another
replica) takes effect on the very next request. Plain SQL on the DBAPI connection
(``cargohold.db.raw``): a handful of indexed reads, most of them skipped for packages without
grants.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from cargohold.authz.model import OwnerState, PackageState, RepoRef, Role, Visibility
from cargohold.db.raw import Reader
from cargohold.oci.names import split_owner

_OWNER_AND_PACKAGE = (
    "SELECT a.id, a.kind, a.member_create_visibilities, a.default_visibility, a.inherit_default,"
    " p.id, p.visibility, p.linked_repo_id, p.inherit, p.publisher_user_id, p.publisher_repo_id,"
    " p.deleted_at"
    " FROM accounts a LEFT JOIN packages p ON p.owner_id = a.id AND p.name = :name"
    " WHERE a.login = :login"
)


def _owner(login: str, row: tuple[Any, ...]) -> OwnerState:
    owner_id, kind, creatable_text, default_visibility, inherit_default = row[:5]
    creatable = (
        frozenset(Visibility(v) for v in creatable_text.split(",") if v)
        if creatable_text is not None
        else frozenset(Visibility)
    )
    return OwnerState(
        id=owner_id,
        login=login,
        kind=kind,
        member_create_visibilities=creatable,
        default_visibility=Visibility(default_visibility),
        inherit_default=bool(inherit_default),
    )


def _repos(db: Reader, ids: set[int]) -> dict[int, tuple[str, int, bool]]:
    """repo id -> (full name, owner id, deleted)."""
    if not ids:
        return {}
    cond, params = db.in_list("r.id", ids)
    rows = db.all(
        "SELECT r.id, a.login, r.name, r.owner_id, r.deleted_at FROM repositories r"
        f" JOIN accounts a ON a.id = r.owner_id WHERE {cond}",
        **params,
    )
    return {
        rid: (f"{login}/{name}", owner, deleted is not None)
        for rid, login, name, owner, deleted in rows
    }


def _team_names(db: Reader, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    cond, params = db.in_list("t.id", ids)
    rows = db.all(
        "SELECT t.id, a.login, t.slug FROM teams t JOIN accounts a ON a.id = t.org_id"
        f" WHERE {cond}",
        **params,
    )
    return {tid: f"{login}/{slug}" for tid, login, slug in rows}


def load_package(db: Reader, name: str) -> PackageState | None:
    """The package state for ``name``; None when its owner namespace does not exist."""
    login = split_owner(name)[0]
    row = db.one(_OWNER_AND_PACKAGE, login=login, name=name)
    if row is None:
        return None
    owner = _owner(login, row)
    if row[5] is None:
        return PackageState(name=name, owner=owner, exists=False)
    package_id, visibility, linked_id, inherit, publisher_user, publisher_repo = row[5:11]
    deleted_at = row[11]

    user_grants: dict[int, Role] = {}
    team_grants: dict[int, Role] = {}
    actions: dict[int, Role] = {}
    # One round trip for both access lists: kind 'u' user grant, 't' team grant, 'a' Actions.
    for kind, subject, role in db.all(
        "SELECT CASE WHEN user_id IS NOT NULL THEN 'u' ELSE 't' END,"
        " COALESCE(user_id, team_id), role FROM package_grants WHERE package_id = :p"
        " UNION ALL SELECT 'a', repo_id, role FROM package_actions_access WHERE package_id = :p",
        p=package_id,
    ):
        {"u": user_grants, "t": team_grants, "a": actions}[kind][subject] = Role.parse(role)

    referenced = set(actions) | {r for r in (linked_id, publisher_repo) if r is not None}
    repos = _repos(db, referenced)
    deleted = {rid: info[0] for rid, info in repos.items() if info[2]}

    linked: RepoRef | None = None
    repo_users: dict[int, str] = {}
    repo_teams: dict[int, str] = {}
    if linked_id is not None and linked_id not in deleted:
        info = repos[linked_id]
        linked = RepoRef(linked_id, info[0], info[1])
        if inherit:
            for user_id, team_id, role in db.all(
                "SELECT user_id, team_id, role FROM repo_collaborators WHERE repo_id = :r",
                r=linked_id,
            ):
                if user_id is not None:
                    repo_users[user_id] = role
                elif team_id is not None:
                    repo_teams[team_id] = role
    return PackageState(
        name=name,
        owner=owner,
        exists=True,
        id=package_id,
        visibility=Visibility(visibility),
        publisher_user_id=publisher_user,
        publisher_repo_id=None if publisher_repo in deleted else publisher_repo,
        linked_repo=linked,
        inherit=bool(inherit),
        user_grants=MappingProxyType(user_grants),
        team_grants=MappingProxyType(team_grants),
        actions_access=MappingProxyType({r: a for r, a in actions.items() if r not in deleted}),
        repo_user_roles=MappingProxyType(repo_users),
        repo_team_roles=MappingProxyType(repo_teams),
        deleted_repos=MappingProxyType(deleted),
        team_names=MappingProxyType(_team_names(db, set(team_grants) | set(repo_teams))),
        deleted=deleted_at is not None,
    )
