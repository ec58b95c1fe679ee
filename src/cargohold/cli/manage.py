"""The management actions behind the CLI words: each parses its options and makes one call to a
domain service (the same services the REST API and the web UI call).

Every function takes the ``Services`` and the command's options, and returns data (printed as
JSON) or a ``Secret`` (printed alone, once).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cargohold.accounts import credentials
from cargohold.accounts.token_service import JobTokenRequest
from cargohold.authz.model import JobDefault, OrgRole, RepoRole, Role, Visibility
from cargohold.errors import InvalidRequestError
from cargohold.oci.names import validate_name
from cargohold.services import Services


@dataclass(frozen=True)
class Secret:
    value: str


_DURATION = re.compile(r"^([0-9]+)([smhd]?)$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """``3600``, ``90m``, ``1h``, ``30d`` -> a positive duration; zero or less is an error."""
    match = _DURATION.match(text.strip())
    if not match:
        raise InvalidRequestError(f"invalid duration {text!r}: e.g. 3600, 90m, 1h, 30d")
    value = timedelta(seconds=int(match.group(1)) * _UNIT[match.group(2)])
    if value <= timedelta(0):
        raise InvalidRequestError(f"invalid duration {text!r}: it must be longer than 0 s")
    return value


def _visibilities(text: str) -> frozenset[Visibility]:
    out = set()
    for item in filter(None, (x.strip() for x in text.split(","))):
        try:
            out.add(Visibility(item))
        except ValueError:
            raise InvalidRequestError(f"invalid visibility {item!r}") from None
    return frozenset(out)


async def user_create(svc: Services, name: str, site_admin: bool) -> dict[str, Any]:
    """Create a user."""
    user = await svc.accounts.create_user(name, site_admin=site_admin)
    return {"id": user.id, "login": name, "site_admin": site_admin}


async def org_create(svc: Services, name: str, owner: str) -> dict[str, Any]:
    """Create an organization owned by a user."""
    org = await svc.accounts.create_org(name, owner)
    return {"id": org.id, "login": name, "owner": owner}


async def org_settings(
    svc: Services,
    org: str,
    member_create: str | None,
    default_visibility: str | None,
    inherit_default: str | None,
    default_job_permission: str | None,
) -> dict[str, Any]:
    """Change an organization's package settings."""
    now = await svc.accounts.set_org_settings(
        org,
        member_create_visibilities=None if member_create is None else _visibilities(member_create),
        default_visibility=None if default_visibility is None else Visibility(default_visibility),
        inherit_default=None if inherit_default is None else inherit_default == "on",
        default_job_permission=None
        if default_job_permission is None
        else JobDefault(default_job_permission),
    )
    return {
        "org": org,
        "member_create_visibilities": ",".join(
            v.value for v in Visibility if v in now.member_create_visibilities
        ),
        "default_visibility": now.default_visibility.value,
        "inherit_default": now.inherit_default,
        "default_job_permission": now.default_job_permission.value,
    }


async def org_member_add(svc: Services, org: str, user: str, role: str) -> dict[str, Any]:
    """Add a user to an organization (or change their role)."""
    await svc.accounts.add_org_member(org, user, OrgRole(role))
    return {"org": org, "user": user, "role": role}


async def team_create(svc: Services, team: str) -> dict[str, Any]:
    """Create a team ORG/TEAM."""
    return {"id": await svc.accounts.create_team(team), "team": team}


async def team_member_add(svc: Services, team: str, user: str) -> dict[str, Any]:
    """Add a user to a team."""
    await svc.accounts.add_team_member(team, user)
    return {"team": team, "user": user}


async def repo_create(svc: Services, repository: str, visibility: str) -> dict[str, Any]:
    """Create a source repository OWNER/NAME."""
    repo = await svc.accounts.create_repo(repository, Visibility(visibility))
    return {"id": repo.id, "repository": repository, "visibility": visibility}


async def repo_delete(svc: Services, repository: str) -> dict[str, Any]:
    """Delete a repository (its id, and every grant to it, stay dead)."""
    rid = await svc.accounts.delete_repo(repository)
    return {"id": rid, "repository": repository, "deleted": True}


async def repo_collaborator_add(
    svc: Services, repository: str, user: str | None, team: str | None, role: str
) -> dict[str, Any]:
    """Give a user or team a role on a repository."""
    await svc.accounts.add_collaborator(repository, RepoRole(role), user=user, team=team)
    return {"repository": repository, "user": user, "team": team, "role": role}


async def token_create(
    svc: Services, user: str, scopes: str, expires_in: str | None, name: str | None
) -> Secret:
    """Create a personal access token; prints the secret once."""
    made = await svc.tokens.create_pat(
        user,
        credentials.parse_scopes(scopes),
        expires_in=parse_duration(expires_in) if expires_in is not None else None,
        name=name,
    )
    return Secret(made.secret)


async def token_revoke(svc: Services, token_id: str) -> dict[str, Any]:
    """Revoke a token by its id (the first 10 characters of the secret)."""
    await svc.tokens.revoke(token_id)
    return {"id": token_id, "revoked": True}


async def token_list(svc: Services, user: str | None) -> list[dict[str, Any]]:
    """List tokens (ids, never secrets)."""
    return [t.as_dict() for t in await svc.tokens.list(user)]


async def runner_create(svc: Services, name: str, serves: tuple[str, ...]) -> Secret:
    """Create a runner credential for a CI system; prints the secret once."""
    if not serves:
        raise InvalidRequestError("give --serves OWNER or --serves OWNER/NAME (repeatable)")
    return Secret((await svc.tokens.create_runner(name, serves)).secret)


async def runner_serve(svc: Services, runner_id: str, target: str) -> dict[str, Any]:
    """Let a runner mint job tokens for one more owner or repository."""
    await svc.tokens.runner_serve(runner_id, target)
    return {"runner": runner_id, "serves": target}


async def job_token_create(
    svc: Services,
    repository: str,
    permissions: str | None,
    ttl: str | None,
    run_id: str | None,
    fork: bool,
) -> Secret:
    """Mint a job token for a repository; prints the secret once."""
    request = JobTokenRequest(
        repository,
        # An empty --permissions "" is an empty block: every permission none.
        permissions=None if permissions is None else credentials.parse_permissions(permissions),
        ttl=parse_duration(ttl) if ttl is not None else None,
        run_id=run_id,
        fork=fork,
    )
    made = await svc.tokens.mint_job_token(request)
    return Secret(str(made["token"]))


async def job_token_revoke(svc: Services, token_id: str) -> dict[str, Any]:
    """Revoke a job token (the job ended)."""
    await svc.tokens.revoke_job_token(token_id)
    return {"id": token_id, "revoked": True}


async def package_show(svc: Services, package: str) -> dict[str, object]:
    """Show a package's settings."""
    return (await svc.package_settings.describe(validate_name(package))).as_dict()


async def package_visibility(svc: Services, package: str, visibility: str) -> dict[str, object]:
    """Set a package's visibility."""
    done = await svc.package_settings.set_visibility(validate_name(package), Visibility(visibility))
    return done.as_dict()


async def package_link(
    svc: Services, package: str, repository: str | None, unlink: bool
) -> dict[str, object]:
    """Link a package to a repository (inheritance is not switched on by itself)."""
    if unlink == (repository is not None):
        raise InvalidRequestError("give --repository OWNER/NAME or --unlink")
    return (await svc.package_settings.link(validate_name(package), repository)).as_dict()


async def package_inherit(svc: Services, package: str, state: str) -> dict[str, object]:
    """Switch "Inherit access from source repository" on or off."""
    done = await svc.package_settings.set_inherit(validate_name(package), state == "on")
    return done.as_dict()


async def package_access_add(
    svc: Services, package: str, user: str | None, team: str | None, role: str
) -> dict[str, object]:
    """Manage access: grant a user or team a role."""
    done = await svc.package_settings.grant(
        validate_name(package), Role.parse(role), user=user, team=team
    )
    return done.as_dict()


async def package_access_remove(
    svc: Services, package: str, user: str | None, team: str | None
) -> dict[str, object]:
    """Manage access: remove a user's or team's grant."""
    done = await svc.package_settings.revoke_grant(validate_name(package), user=user, team=team)
    return done.as_dict()


async def package_actions_add(
    svc: Services, package: str, repository: str, role: str
) -> dict[str, object]:
    """Manage Actions access: give a repository's jobs a role."""
    done = await svc.package_settings.add_actions_access(
        validate_name(package), repository, Role.parse(role)
    )
    return done.as_dict()


async def package_actions_remove(svc: Services, package: str, repository: str) -> dict[str, object]:
    """Manage Actions access: remove a repository."""
    done = await svc.package_settings.remove_actions_access(validate_name(package), repository)
    return done.as_dict()


async def why(
    svc: Services, package: str, user: str | None, repository: str | None
) -> dict[str, object]:
    """Effective role of a user or a repository's jobs on a package, and every source of it."""
    found = await svc.access.why(validate_name(package), user=user, repository=repository)
    return found.as_dict()


async def uploads_sweep(svc: Services, older_than: str | None) -> dict[str, Any]:
    """Remove upload sessions and temporary objects abandoned longer than --older-than."""
    age = (
        parse_duration(older_than)
        if older_than is not None
        else timedelta(seconds=svc.settings.upload_stale_after)
    )
    swept = await svc.uploads.sweep(age)
    return {"sessions": swept.sessions, "orphans": swept.orphans}


async def audit(svc: Services, package: str | None, limit: int) -> list[dict[str, Any]]:
    """Recent authorization decisions, newest first."""
    return await svc.audit_log.recent(package, limit)
