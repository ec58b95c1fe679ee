"""Users, organizations, teams, source repositories and their collaborators.

Services take a connection and plain values; they enforce the model's invariants (unique logins,
lower-case names, valid roles) and raise ``NotFoundError`` / ``ConflictError`` /
``InvalidRequestError``. Who may call them is decided by the caller (local CLI = the operator;
the REST API = an admin, through the permission decision).
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, select, update

from cargohold.authz.model import AccountKind, JobDefault, OrgRole, RepoRole, Visibility
from cargohold.db import schema as s
from cargohold.db.tx import insert_ignore, now, upsert
from cargohold.errors import ConflictError, InvalidRequestError, NotFoundError

LOGIN_RE = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,38}$")
REPO_NAME_RE = re.compile(r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$")


def _check_login(login: str) -> str:
    if not LOGIN_RE.match(login):
        raise InvalidRequestError(
            f"invalid name {login!r}: lower-case letters, digits and single hyphens, at most 39"
        )
    return login


def create_account(
    conn: Connection, login: str, kind: AccountKind | str, *, site_admin: bool = False
) -> int:
    kind = AccountKind(kind)
    _check_login(login)
    if account_id(conn, login) is not None:
        raise ConflictError(f"the name {login!r} is taken")
    result = conn.execute(
        s.accounts.insert().values(
            login=login,
            kind=kind.value,
            site_admin=site_admin,
            member_create_visibilities=",".join(Visibility) if kind is AccountKind.ORG else None,
            default_visibility=Visibility.PRIVATE.value,
            inherit_default=True,
            default_job_permission=JobDefault.RESTRICTED.value,
            created_at=now(),
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def account_id(conn: Connection, login: str, kind: AccountKind | None = None) -> int | None:
    query = select(s.accounts.c.id).where(s.accounts.c.login == login)
    if kind is not None:
        query = query.where(s.accounts.c.kind == kind)
    return conn.execute(query).scalar()


def require_account(conn: Connection, login: str, kind: AccountKind | None = None) -> int:
    found = account_id(conn, login, kind)
    if found is None:
        raise NotFoundError(f"no {kind or 'user or organization'} named {login!r}")
    return found


def create_org(conn: Connection, login: str, owner: str) -> int:
    owner_id = require_account(conn, owner, AccountKind.USER)
    org_id = create_account(conn, login, AccountKind.ORG)
    conn.execute(
        s.org_members.insert().values(org_id=org_id, user_id=owner_id, role=OrgRole.OWNER.value)
    )
    return org_id


def add_member(conn: Connection, org: str, user: str, role: OrgRole) -> None:
    org_id = require_account(conn, org, AccountKind.ORG)
    user_id = require_account(conn, user, AccountKind.USER)
    upsert(
        conn, s.org_members, ("org_id", "user_id"), org_id=org_id, user_id=user_id, role=role.value
    )


def set_org_settings(
    conn: Connection,
    org: str,
    *,
    member_create_visibilities: frozenset[Visibility] | None = None,
    default_visibility: Visibility | None = None,
    inherit_default: bool | None = None,
    default_job_permission: JobDefault | None = None,
) -> None:
    org_id = require_account(conn, org, AccountKind.ORG)
    values: dict[str, object] = {}
    if member_create_visibilities is not None:
        # Stored in the enum's order, so the text is canonical.
        listed = [v.value for v in Visibility if v in member_create_visibilities]
        values["member_create_visibilities"] = ",".join(listed)
    if default_visibility is not None:
        values["default_visibility"] = default_visibility.value
    if inherit_default is not None:
        values["inherit_default"] = inherit_default
    if default_job_permission is not None:
        values["default_job_permission"] = default_job_permission.value
    if values:
        conn.execute(update(s.accounts).where(s.accounts.c.id == org_id).values(**values))


def split_team(ref: str) -> tuple[str, str]:
    org, sep, slug = ref.partition("/")
    if not sep or not slug:
        raise InvalidRequestError(f"invalid team {ref!r}: expected ORG/TEAM")
    return org, slug


def team_id(conn: Connection, ref: str) -> int:
    org, slug = split_team(ref)
    org_id = require_account(conn, org, AccountKind.ORG)
    found = conn.execute(
        select(s.teams.c.id).where(s.teams.c.org_id == org_id, s.teams.c.slug == slug)
    ).scalar()
    if found is None:
        raise NotFoundError(f"no team {ref!r}")
    return int(found)


def create_team(conn: Connection, ref: str) -> int:
    org, slug = split_team(ref)
    _check_login(slug)
    org_id = require_account(conn, org, AccountKind.ORG)
    if not insert_ignore(conn, s.teams, org_id=org_id, slug=slug):
        raise ConflictError(f"team {ref!r} exists")
    return team_id(conn, ref)


def add_team_member(conn: Connection, ref: str, user: str) -> None:
    tid = team_id(conn, ref)
    user_id = require_account(conn, user, AccountKind.USER)
    insert_ignore(conn, s.team_members, team_id=tid, user_id=user_id)


def split_repo(ref: str) -> tuple[str, str]:
    owner, sep, name = ref.partition("/")
    if not sep or not REPO_NAME_RE.match(name):
        raise InvalidRequestError(f"invalid repository {ref!r}: expected OWNER/NAME in lower case")
    return owner, name


def repo_id(conn: Connection, ref: str) -> int:
    """Id of the LIVE repository named ``ref``."""
    owner, name = split_repo(ref)
    owner_id = require_account(conn, owner)
    found = conn.execute(
        select(s.repositories.c.id).where(
            s.repositories.c.owner_id == owner_id,
            s.repositories.c.name == name,
            s.repositories.c.deleted_at.is_(None),
        )
    ).scalar()
    if found is None:
        raise NotFoundError(f"no repository {ref!r}")
    return int(found)


def create_repo(conn: Connection, ref: str, visibility: Visibility = Visibility.PRIVATE) -> int:
    owner, name = split_repo(ref)
    owner_id = require_account(conn, owner)
    try:
        repo_id(conn, ref)
    except NotFoundError:
        pass
    else:
        raise ConflictError(f"repository {ref!r} exists")
    result = conn.execute(
        s.repositories.insert().values(
            owner_id=owner_id, name=name, visibility=visibility.value, created_at=now()
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def delete_repo(conn: Connection, ref: str) -> int:
    """Mark the repository deleted. Its id is never reused; grants to it stay dead."""
    rid = repo_id(conn, ref)
    conn.execute(update(s.repositories).where(s.repositories.c.id == rid).values(deleted_at=now()))
    # Live job tokens of a deleted repository die with it.
    conn.execute(
        update(s.credentials)
        .where(s.credentials.c.repo_id == rid, s.credentials.c.revoked_at.is_(None))
        .values(revoked_at=now())
    )
    return rid


def add_collaborator(
    conn: Connection, ref: str, role: RepoRole, *, user: str | None = None, team: str | None = None
) -> None:
    if (user is None) == (team is None):
        raise InvalidRequestError("give exactly one of --user or --team")
    rid = repo_id(conn, ref)
    uid = require_account(conn, user, AccountKind.USER) if user else None
    tid = team_id(conn, team) if team else None
    existing = conn.execute(
        select(s.repo_collaborators.c.id).where(
            s.repo_collaborators.c.repo_id == rid,
            s.repo_collaborators.c.user_id.is_(uid)
            if uid is None
            else s.repo_collaborators.c.user_id == uid,
            s.repo_collaborators.c.team_id.is_(tid)
            if tid is None
            else s.repo_collaborators.c.team_id == tid,
        )
    ).scalar()
    if existing is not None:
        conn.execute(
            update(s.repo_collaborators)
            .where(s.repo_collaborators.c.id == existing)
            .values(role=role.value)
        )
    else:
        conn.execute(
            s.repo_collaborators.insert().values(
                repo_id=rid, user_id=uid, team_id=tid, role=role.value
            )
        )
