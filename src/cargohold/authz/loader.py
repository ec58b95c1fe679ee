"""Loads the plain data the pure decision needs, from the current database state.

Called on every request, so a grant or revocation made by any process (the CLI, another
replica) takes effect on the very next request. Kept to a handful of indexed queries.
"""

from __future__ import annotations

from types import MappingProxyType

from sqlalchemy import Connection, select

from cargohold.authz.model import OwnerState, PackageState, RepoRef, Role, Visibility
from cargohold.db import schema as s
from cargohold.oci.names import split_owner


def load_owner(conn: Connection, login: str) -> OwnerState | None:
    a = s.accounts.c
    row = conn.execute(
        select(
            a.id, a.kind, a.member_create_visibilities, a.default_visibility, a.inherit_default
        ).where(a.login == login)
    ).first()
    if row is None:
        return None
    creatable = (
        frozenset(Visibility(v) for v in row.member_create_visibilities.split(",") if v)
        if row.member_create_visibilities is not None
        else frozenset(Visibility)
    )
    return OwnerState(
        id=row.id,
        login=login,
        kind=row.kind,
        member_create_visibilities=creatable,
        default_visibility=Visibility(row.default_visibility),
        inherit_default=bool(row.inherit_default),
    )


def _repo_names(conn: Connection, ids: set[int]) -> dict[int, tuple[str, int, bool]]:
    """repo id -> (full name, owner id, deleted)."""
    if not ids:
        return {}
    r = s.repositories.c
    rows = conn.execute(
        select(r.id, r.name, r.owner_id, r.deleted_at, s.accounts.c.login)
        .join(s.accounts, s.accounts.c.id == r.owner_id)
        .where(r.id.in_(ids))
    )
    return {
        row.id: (f"{row.login}/{row.name}", row.owner_id, row.deleted_at is not None)
        for row in rows
    }


def load_package(conn: Connection, name: str) -> PackageState | None:
    """The package state for ``name``; None when its owner namespace does not exist."""
    owner = load_owner(conn, split_owner(name)[0])
    if owner is None:
        return None
    p = s.packages.c
    row = conn.execute(
        select(
            p.id,
            p.visibility,
            p.linked_repo_id,
            p.inherit,
            p.publisher_user_id,
            p.publisher_repo_id,
        ).where(p.name == name)
    ).first()
    if row is None:
        return PackageState(name=name, owner=owner, exists=False)

    user_grants: dict[int, Role] = {}
    team_grants: dict[int, Role] = {}
    g = s.package_grants.c
    for grant in conn.execute(select(g.user_id, g.team_id, g.role).where(g.package_id == row.id)):
        if grant.user_id is not None:
            user_grants[grant.user_id] = Role.parse(grant.role)
        elif grant.team_id is not None:
            team_grants[grant.team_id] = Role.parse(grant.role)
    aa = s.package_actions_access.c
    actions = {
        r.repo_id: Role.parse(r.role)
        for r in conn.execute(select(aa.repo_id, aa.role).where(aa.package_id == row.id))
    }
    referenced = set(actions)
    for rid in (row.linked_repo_id, row.publisher_repo_id):
        if rid is not None:
            referenced.add(rid)
    repos = _repo_names(conn, referenced)
    deleted = {rid: info[0] for rid, info in repos.items() if info[2]}
    live_actions = {rid: role for rid, role in actions.items() if rid not in deleted}

    linked: RepoRef | None = None
    repo_users: dict[int, str] = {}
    repo_teams: dict[int, str] = {}
    if row.linked_repo_id is not None and row.linked_repo_id not in deleted:
        info = repos[row.linked_repo_id]
        linked = RepoRef(row.linked_repo_id, info[0], info[1])
        if row.inherit:
            c = s.repo_collaborators.c
            for collab in conn.execute(
                select(c.user_id, c.team_id, c.role).where(c.repo_id == row.linked_repo_id)
            ):
                if collab.user_id is not None:
                    repo_users[collab.user_id] = collab.role
                elif collab.team_id is not None:
                    repo_teams[collab.team_id] = collab.role
    team_ids = set(team_grants) | set(repo_teams)
    team_names = (
        {
            r.id: f"{r.login}/{r.slug}"
            for r in conn.execute(
                select(s.teams.c.id, s.teams.c.slug, s.accounts.c.login)
                .join(s.accounts, s.accounts.c.id == s.teams.c.org_id)
                .where(s.teams.c.id.in_(team_ids))
            )
        }
        if team_ids
        else {}
    )
    return PackageState(
        name=name,
        owner=owner,
        exists=True,
        id=row.id,
        visibility=Visibility(row.visibility),
        publisher_user_id=row.publisher_user_id,
        publisher_repo_id=None if row.publisher_repo_id in deleted else row.publisher_repo_id,
        linked_repo=linked,
        inherit=bool(row.inherit),
        user_grants=MappingProxyType(user_grants),
        team_grants=MappingProxyType(team_grants),
        actions_access=MappingProxyType(live_actions),
        repo_user_roles=MappingProxyType(repo_users),
        repo_team_roles=MappingProxyType(repo_teams),
        deleted_repos=MappingProxyType(deleted),
        team_names=MappingProxyType(team_names),
    )
