"""Loads the plain data the pure decision needs, from the current database state.

Called on every request, so a grant or revocation made by any process (the CLI, another
replica) takes effect on the very next request. Statements from ``cargohold.db.queries`` on
the DBAPI connection: a handful of indexed reads, most of them skipped for packages without
grants.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from cargohold.authz.model import OwnerState, PackageState, RepoRef, Role, Visibility
from cargohold.db import queries as q
from cargohold.db.raw import Reader
from cargohold.oci.names import split_owner


def _owner(login: str, row: Any) -> OwnerState:
    creatable_text = row.member_create_visibilities
    creatable = (
        frozenset(Visibility(v) for v in creatable_text.split(",") if v)
        if creatable_text is not None
        else frozenset(Visibility)
    )
    return OwnerState(
        id=row.owner_id,
        login=login,
        kind=row.kind,
        member_create_visibilities=creatable,
        default_visibility=Visibility(row.default_visibility),
        inherit_default=bool(row.inherit_default),
    )


def _repos(
    db: Reader, package_id: int, linked: int | None, publisher: int | None
) -> dict[int, tuple[str, int, bool]]:
    """repo id -> (full name, owner id, deleted), for every repository the package refers to."""
    return {
        r.id: (f"{r.owner_login}/{r.name}", r.owner_id, r.deleted_at is not None)
        for r in db.all(q.PACKAGE_REPOS, p=package_id, linked=linked, publisher=publisher)
    }


def _team_names(db: Reader, package_id: int, repo_id: int | None) -> dict[int, str]:
    return {t.id: f"{t.org_login}/{t.slug}" for t in db.all(q.TEAM_NAMES, p=package_id, r=repo_id)}


def load_package(db: Reader, name: str) -> PackageState | None:
    """The package state for ``name``; None when its owner namespace does not exist."""
    login = split_owner(name)[0]
    row = db.one(q.OWNER_AND_PACKAGE, login=login, name=name)
    if row is None:
        return None
    owner = _owner(login, row)
    if row.package_id is None:
        return PackageState(name=name, owner=owner, exists=False)
    package_id, linked_id, publisher_repo = (
        row.package_id,
        row.linked_repo_id,
        row.publisher_repo_id,
    )
    deleted_at = row.deleted_at

    user_grants: dict[int, Role] = {}
    team_grants: dict[int, Role] = {}
    actions: dict[int, Role] = {}
    # One round trip for both access lists: kind 'u' user grant, 't' team grant, 'a' Actions.
    lists = {"u": user_grants, "t": team_grants, "a": actions}
    for entry in db.all(q.PACKAGE_ACCESS, p=package_id):
        lists[entry.kind][entry.subject] = Role.parse(entry.role)

    referenced = set(actions) | {r for r in (linked_id, publisher_repo) if r is not None}
    repos = _repos(db, package_id, linked_id, publisher_repo) if referenced else {}
    deleted = {rid: info[0] for rid, info in repos.items() if info[2]}

    linked: RepoRef | None = None
    repo_users: dict[int, str] = {}
    repo_teams: dict[int, str] = {}
    if linked_id is not None and linked_id not in deleted:
        info = repos[linked_id]
        linked = RepoRef(linked_id, info[0], info[1])
        if row.inherit:
            for c in db.all(q.REPO_COLLABORATORS, r=linked_id):
                if c.user_id is not None:
                    repo_users[c.user_id] = c.role
                elif c.team_id is not None:
                    repo_teams[c.team_id] = c.role
    team_names = (
        _team_names(db, package_id, linked.id if repo_teams and linked else None)
        if team_grants or repo_teams
        else {}
    )
    return PackageState(
        name=name,
        owner=owner,
        exists=True,
        id=package_id,
        visibility=Visibility(row.visibility),
        publisher_user_id=row.publisher_user_id,
        publisher_repo_id=None if publisher_repo in deleted else publisher_repo,
        linked_repo=linked,
        inherit=bool(row.inherit),
        user_grants=MappingProxyType(user_grants),
        team_grants=MappingProxyType(team_grants),
        actions_access=MappingProxyType({r: a for r, a in actions.items() if r not in deleted}),
        repo_user_roles=MappingProxyType(repo_users),
        repo_team_roles=MappingProxyType(repo_teams),
        deleted_repos=MappingProxyType(deleted),
        team_names=MappingProxyType(team_names),
        deleted=deleted_at is not None,
    )
