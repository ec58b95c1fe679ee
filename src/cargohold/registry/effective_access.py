"""Who holds a role on a package, and why: the settings page's "Effective access" and the
admins a non-admin is told to ask. Each answer comes from ``effective_role`` (the decision's own
role computation) over the candidates any source could name, so no rule is written twice.
"""

from __future__ import annotations

from collections.abc import Iterator

from cargohold.accounts.credentials import load_user_principal
from cargohold.authz.decide import Source, effective_role
from cargohold.authz.model import PackageState, Principal, PrincipalKind, RepoRef, Role, Visibility
from cargohold.db import queries as q
from cargohold.db.raw import Reader
from cargohold.registry.read_model import Access


def effective_access(db: Reader, state: PackageState) -> Iterator[Access]:
    """Every user and repository that holds a role on the package, with the sources of it.

    Candidates are everyone a source could name (site admins, the owner and its organization's
    members, grantees and their teams, the linked repository's collaborators, Actions access and
    publishing repositories); ``effective_role`` decides who really holds what.
    """
    if state.visibility is Visibility.PUBLIC:
        yield Access("everyone", "everyone", Role.READ, ())
    for uid in _candidate_users(db, state):
        principal = load_user_principal(db, uid)
        if principal is None:
            continue
        role, sources = effective_role(principal, state)
        sources = tuple(x for x in sources if not _is_public(x, state))
        if sources:
            yield Access(f"user {principal.login}", "user", role, sources)
    repos = set(state.actions_access) | {
        x for x in (state.publisher_repo_id, state.linked_repo.id if state.linked_repo else None)
        if x is not None
    }  # fmt: skip
    for rid in sorted(repos):
        row = db.one(q.REPOSITORY_BY_ID, id=rid)
        if row is None or row.deleted_at is not None:
            continue
        repo = RepoRef(row.id, f"{row.owner_login}/{row.name}", row.owner_id)
        role, sources = effective_role(Principal(PrincipalKind.REPOSITORY, repo=repo), state)
        sources = tuple(x for x in sources if not _is_public(x, state))
        if sources:
            yield Access(f"repository {repo.full_name}", "repository", role, sources)


def _is_public(source: Source, state: PackageState) -> bool:
    return source.kind == "visibility" and state.visibility is Visibility.PUBLIC


def _candidate_users(db: Reader, state: PackageState) -> list[int]:
    ids: set[int] = {row.id for row in db.all(q.SITE_ADMIN_IDS)}
    owner = state.owner
    if owner.is_org:
        ids |= {r.user_id for r in db.all(q.ORG_MEMBER_IDS, o=owner.id)}
    else:
        ids.add(owner.id)
    if state.publisher_user_id is not None:
        ids.add(state.publisher_user_id)
    ids |= set(state.user_grants) | set(state.repo_user_roles)
    for team_id in set(state.team_grants) | set(state.repo_team_roles):
        ids |= {r.user_id for r in db.all(q.TEAM_MEMBER_IDS, t=team_id)}
    return sorted(ids)


def admins(db: Reader, state: PackageState) -> tuple[str, ...]:
    """Who can change the package's settings (users and repositories holding admin)."""
    return tuple(
        x.who for x in effective_access(db, state) if x.role is Role.ADMIN and x.kind != "everyone"
    )
