"""The management actions behind the CLI words; each calls domain services only.

Every function takes the ``Local`` context and the command's options, and returns data (printed
as JSON), a sentence, or a ``Secret`` (printed alone, once).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from cargohold.accounts import credentials, jobs, service
from cargohold.accounts.credentials import load_user_principal
from cargohold.audit.log import query as audit_query
from cargohold.authz.decide import effective_role
from cargohold.authz.model import Principal, PrincipalKind, RepoRef
from cargohold.authz.service import state_for
from cargohold.cli.local import Local
from cargohold.db import schema as s
from cargohold.db.raw import Reader
from cargohold.db.tx import aware, now
from cargohold.errors import InvalidRequestError, NotFoundError
from cargohold.oci.names import validate_name
from cargohold.registry import package_settings as ps
from cargohold.registry.janitor import sweep
from cargohold.services import configured_store


@dataclass(frozen=True)
class Secret:
    value: str


_DURATION = re.compile(r"^(\d+)([smhd]?)$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if not match:
        raise InvalidRequestError(f"invalid duration {text!r}: e.g. 3600, 90m, 1h, 30d")
    return timedelta(seconds=int(match.group(1)) * _UNIT[match.group(2)])


def user_create(local: Local, name: str, site_admin: bool) -> dict[str, Any]:
    """Create a user."""
    uid = service.create_account(local.conn, name, "user", site_admin=site_admin)
    return {"id": uid, "login": name, "site_admin": site_admin}


def org_create(local: Local, name: str, owner: str) -> dict[str, Any]:
    """Create an organization owned by a user."""
    oid = service.create_org(local.conn, name, owner)
    return {"id": oid, "login": name, "owner": owner}


def org_settings(
    local: Local,
    org: str,
    member_create: str | None,
    default_visibility: str | None,
    inherit_default: str | None,
    default_job_permission: str | None,
) -> dict[str, Any]:
    """Change an organization's package settings."""
    service.set_org_settings(
        local.conn,
        org,
        member_create_visibilities=member_create.split(",") if member_create is not None else None,
        default_visibility=default_visibility,
        inherit_default=None if inherit_default is None else inherit_default == "on",
        default_job_permission=default_job_permission,
    )
    row = local.conn.execute(select(s.accounts).where(s.accounts.c.login == org)).one()
    return {
        "org": org,
        "member_create_visibilities": row.member_create_visibilities,
        "default_visibility": row.default_visibility,
        "inherit_default": bool(row.inherit_default),
        "default_job_permission": row.default_job_permission,
    }


def org_member_add(local: Local, org: str, user: str, role: str) -> dict[str, Any]:
    """Add a user to an organization (or change their role)."""
    service.add_member(local.conn, org, user, role)
    return {"org": org, "user": user, "role": role}


def team_create(local: Local, team: str) -> dict[str, Any]:
    """Create a team ORG/TEAM."""
    return {"id": service.create_team(local.conn, team), "team": team}


def team_member_add(local: Local, team: str, user: str) -> dict[str, Any]:
    """Add a user to a team."""
    service.add_team_member(local.conn, team, user)
    return {"team": team, "user": user}


def repo_create(local: Local, repository: str, visibility: str) -> dict[str, Any]:
    """Create a source repository OWNER/NAME."""
    rid = service.create_repo(local.conn, repository, visibility)
    return {"id": rid, "repository": repository, "visibility": visibility}


def repo_delete(local: Local, repository: str) -> dict[str, Any]:
    """Delete a repository (its id, and every grant to it, stay dead)."""
    rid = service.delete_repo(local.conn, repository)
    return {"id": rid, "repository": repository, "deleted": True}


def repo_collaborator_add(
    local: Local, repository: str, user: str | None, team: str | None, role: str
) -> dict[str, Any]:
    """Give a user or team a role on a repository."""
    service.add_collaborator(local.conn, repository, role, user=user, team=team)
    return {"repository": repository, "user": user, "team": team, "role": role}


def token_create(
    local: Local, user: str, scopes: str, expires_in: str | None, name: str | None
) -> Secret:
    """Create a personal access token; prints the secret once."""
    uid = service.require_account(local.conn, user, "user")
    ttl = parse_duration(expires_in) if expires_in else None
    _, secret = credentials.create_pat(
        local.conn, local.keys, uid, credentials.parse_scopes(scopes), ttl, name=name
    )
    return Secret(secret)


def token_revoke(local: Local, token_id: str) -> dict[str, Any]:
    """Revoke a token by its id (the first 10 characters of the secret)."""
    credentials.revoke(local.conn, token_id)
    return {"id": token_id, "revoked": True}


def token_list(local: Local, user: str | None) -> list[dict[str, Any]]:
    """List tokens (ids, never secrets)."""
    c = s.credentials.c
    query = select(
        c.id,
        c.kind,
        c.name,
        c.scopes,
        c.permissions,
        c.created_at,
        c.expires_at,
        c.revoked_at,
        c.last_used_at,
        c.user_id,
        c.repo_id,
    )
    if user is not None:
        query = query.where(c.user_id == service.require_account(local.conn, user, "user"))
    return [
        {k: _plain(v) for k, v in row._mapping.items()}
        for row in local.conn.execute(query.order_by(c.created_at))
    ]


def _plain(value: Any) -> Any:
    stamp = aware(value) if isinstance(value, datetime) else None
    return value if stamp is None else stamp.isoformat()


def runner_create(local: Local, name: str) -> Secret:
    """Create a runner credential for a CI system; prints the secret once."""
    _, secret = credentials.create_runner(local.conn, local.keys, name)
    return Secret(secret)


def job_token_create(
    local: Local,
    repository: str,
    permissions: str | None,
    ttl: str | None,
    run_id: str | None,
    fork: bool,
) -> Secret:
    """Mint a job token for a repository; prints the secret once."""
    listed = credentials.parse_permissions(permissions) if permissions else None
    settings = local.settings
    result = jobs.mint(
        local.conn,
        local.keys,
        repository,
        listed,
        parse_duration(ttl) if ttl else timedelta(seconds=settings.job_token_ttl),
        max_ttl=timedelta(seconds=settings.job_token_max_ttl),
        run_id=run_id,
        fork=fork,
    )
    return Secret(str(result["token"]))


def job_token_revoke(local: Local, token_id: str) -> dict[str, Any]:
    """Revoke a job token (the job ended)."""
    credentials.revoke(local.conn, token_id, kind="job")
    return {"id": token_id, "revoked": True}


def _package(name: str) -> str:
    return validate_name(name)


def package_show(local: Local, package: str) -> dict[str, Any]:
    """Show a package's settings."""
    return ps.describe(local.conn, _package(package))


def package_visibility(local: Local, package: str, visibility: str) -> dict[str, Any]:
    """Set a package's visibility."""
    ps.set_visibility(local.conn, _package(package), visibility)
    return ps.describe(local.conn, package)


def package_link(
    local: Local, package: str, repository: str | None, unlink: bool
) -> dict[str, Any]:
    """Link a package to a repository (inheritance is not switched on by itself)."""
    if unlink == (repository is not None):
        raise InvalidRequestError("give --repository OWNER/NAME or --unlink")
    ps.link(local.conn, _package(package), repository)
    return ps.describe(local.conn, package)


def package_inherit(local: Local, package: str, state: str) -> dict[str, Any]:
    """Switch "Inherit access from source repository" on or off."""
    ps.set_inherit(local.conn, _package(package), state == "on")
    return ps.describe(local.conn, package)


def package_access_add(
    local: Local, package: str, user: str | None, team: str | None, role: str
) -> dict[str, Any]:
    """Manage access: grant a user or team a role."""
    ps.grant(local.conn, _package(package), role, user=user, team=team)
    return ps.describe(local.conn, package)


def package_access_remove(
    local: Local, package: str, user: str | None, team: str | None
) -> dict[str, Any]:
    """Manage access: remove a user's or team's grant."""
    ps.revoke_grant(local.conn, _package(package), user=user, team=team)
    return ps.describe(local.conn, package)


def package_actions_add(local: Local, package: str, repository: str, role: str) -> dict[str, Any]:
    """Manage Actions access: give a repository's jobs a role."""
    ps.add_actions_access(local.conn, _package(package), repository, role)
    return ps.describe(local.conn, package)


def package_actions_remove(local: Local, package: str, repository: str) -> dict[str, Any]:
    """Manage Actions access: remove a repository."""
    ps.remove_actions_access(local.conn, _package(package), repository)
    return ps.describe(local.conn, package)


def why(local: Local, package: str, user: str | None, repository: str | None) -> dict[str, Any]:
    """Effective role of a user or a repository's jobs on a package, and every source of it."""
    conn = local.conn
    name = _package(package)
    if (user is None) == (repository is None):
        raise InvalidRequestError("give exactly one of --user or --repository")
    principal: Principal | None
    if user is not None:
        principal = load_user_principal(
            Reader.over(conn), service.require_account(conn, user, "user")
        )
        who = f"user {user}"
    else:
        assert repository is not None
        rid = service.repo_id(conn, repository)
        owner_id = conn.execute(
            select(s.repositories.c.owner_id).where(s.repositories.c.id == rid)
        ).scalar_one()
        principal = Principal(PrincipalKind.REPOSITORY, repo=RepoRef(rid, repository, owner_id))
        who = f"repository {repository} (id {rid})"
    if principal is None:
        raise NotFoundError(f"no user {user!r}")
    state = state_for(Reader.over(conn), name)
    role, sources = effective_role(principal, state)
    return {
        "package": name,
        "exists": state.exists,
        "who": who,
        "role": role.label,
        "sources": [{"kind": x.kind, "role": x.role.label, "why": x.description} for x in sources],
    }


def uploads_sweep(local: Local, older_than: str | None) -> dict[str, Any]:
    """Remove upload sessions and temporary objects abandoned longer than --older-than."""
    settings = local.settings
    age = (
        parse_duration(older_than) if older_than else timedelta(seconds=settings.upload_stale_after)
    )
    swept = sweep(local.conn, configured_store(settings), age, now())
    return {"sessions": swept.sessions, "orphans": swept.orphans}


def audit(local: Local, package: str | None, limit: int) -> list[dict[str, Any]]:
    """Recent authorization decisions, newest first."""
    return audit_query(local.conn, package, limit)
