"""Administration: users, organizations and members, teams, repositories and collaborators,
tokens, runner credentials, and job-token mint/revoke for runners.

GitHub's paths where it has them (``/user``, ``/orgs/{org}/memberships/{username}``,
``/orgs/{org}/teams``, ``/orgs/{org}/repos``, ``/user/repos``,
``/repos/{owner}/{repo}/collaborators/{username}``, GHES's ``/admin/users`` and
``/admin/organizations``); cargohold's own for tokens (``/user/tokens``, ``/admin/tokens``),
runners (``/admin/runners``) and job tokens (``/actions/job-tokens``, with a runner
credential). Who may do what is ``AdminService``'s rule.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cargohold.accounts import credentials
from cargohold.accounts.account_service import Account
from cargohold.accounts.token_service import JobTokenRequest, TokenInfo
from cargohold.authz.model import AccountKind, OrgRole, PatScope, RepoRole, Visibility
from cargohold.errors import InvalidRequestError, UnauthorizedError
from cargohold.web.api import shapes
from cargohold.web.api.framework import (
    PAGE_PARAMS,
    ApiRoute,
    Call,
    Param,
    Reply,
    paginate,
    presented_secret,
)

ERRORS = {400: shapes.ERROR, 401: shapes.ERROR, 403: shapes.ERROR, 404: shapes.ERROR}
TAG = "administration"

# GitHub's collaborator permissions -> repository roles.
PERMISSIONS = {
    "pull": RepoRole.READ,
    "read": RepoRole.READ,
    "triage": RepoRole.TRIAGE,
    "push": RepoRole.WRITE,
    "write": RepoRole.WRITE,
    "maintain": RepoRole.MAINTAIN,
    "admin": RepoRole.ADMIN,
}


def _account(a: Account, base: str) -> dict[str, Any]:
    scope = "orgs" if a.kind is AccountKind.ORG else "users"
    return {
        "login": a.login,
        "id": a.id,
        "type": "Organization" if a.kind is AccountKind.ORG else "User",
        "site_admin": a.site_admin,
        "url": f"{base}/api/v3/{scope}/{a.login}",
    }


def _base(call: Call) -> str:
    return call.services.settings.external_url


def _token(info: TokenInfo) -> dict[str, Any]:
    # Metadata only: a secret is shown once, when it is made, and never stored.
    return info.as_dict()


async def whoami(call: Call) -> Reply:
    return Reply(200, _account(await call.services.admin.whoami(call.signed_in()), _base(call)))


async def get_account(call: Call) -> Reply:
    found = await call.services.admin.account(call.path["username"], call.signed_in())
    return Reply(200, _account(found, _base(call)))


async def create_user(call: Call) -> Reply:
    by = call.signed_in()
    made = await call.services.admin.create_user(
        call.field("login", str),
        site_admin=bool(call.field("site_admin", bool, required=False)),
        by=by,
        password=call.field("password", str, required=False),
    )
    return Reply(201, _account(made, _base(call)))


async def create_org(call: Call) -> Reply:
    by = call.signed_in()
    made = await call.services.admin.create_org(
        call.field("login", str), call.field("admin", str), by=by
    )
    return Reply(201, _account(made, _base(call)))


async def members(call: Call) -> Reply:
    found = await call.services.admin.members(call.path["org"], by=call.signed_in())
    page, headers = paginate(
        call, [{"login": m.login, "id": m.id, "role": m.role.value} for m in found]
    )
    return Reply(200, page, headers)


def _org_role(call: Call) -> OrgRole:
    raw = call.field("role", str, required=False) or "member"
    if raw in ("admin", "owner"):
        return OrgRole.OWNER
    if raw == "member":
        return OrgRole.MEMBER
    raise InvalidRequestError('"role" must be admin or member')


async def set_membership(call: Call) -> Reply:
    role = _org_role(call)
    org, user = call.path["org"], call.path["username"]
    await call.services.admin.set_member(org, user, role, by=call.signed_in())
    return Reply(
        200,
        {"state": "active", "role": "admin" if role is OrgRole.OWNER else "member", "user": user},
    )


async def remove_membership(call: Call) -> Reply:
    org, user = call.path["org"], call.path["username"]
    await call.services.admin.remove_member(org, user, by=call.signed_in())
    return Reply(204)


async def create_team(call: Call) -> Reply:
    org, slug = call.path["org"], call.field("name", str)
    team_id = await call.services.admin.create_team(org, slug, by=call.signed_in())
    return Reply(201, {"id": team_id, "slug": slug, "name": slug, "organization": org})


async def add_team_member(call: Call) -> Reply:
    org, slug, user = call.path["org"], call.path["team_slug"], call.path["username"]
    await call.services.admin.add_team_member(org, slug, user, by=call.signed_in())
    return Reply(200, {"state": "active", "role": "member", "user": user})


def _visibility(call: Call) -> Visibility:
    raw = call.field("visibility", str, required=False)
    if raw is None:
        private = call.field("private", bool, required=False)
        return Visibility.PUBLIC if private is False else Visibility.PRIVATE
    try:
        return Visibility(raw)
    except ValueError:
        raise InvalidRequestError('"visibility" must be public, private or internal') from None


def _repo_json(full_name: str, repo_id: int, visibility: Visibility, base: str) -> dict[str, Any]:
    owner, _, name = full_name.partition("/")
    return {
        "id": repo_id,
        "name": name,
        "full_name": full_name,
        "owner": {"login": owner},
        "private": visibility is not Visibility.PUBLIC,
        "visibility": visibility.value,
        "html_url": f"{base}/{full_name}",
    }


async def create_org_repo(call: Call) -> Reply:
    made = await call.services.admin.create_repo(
        call.path["org"], call.field("name", str), _visibility(call), by=call.signed_in()
    )
    return Reply(201, _repo_json(made.full_name, made.id, made.visibility, _base(call)))


async def create_user_repo(call: Call) -> Reply:
    by = call.signed_in()
    login = by.principal.login or ""
    made = await call.services.admin.create_repo(
        login, call.field("name", str), _visibility(call), by=by
    )
    return Reply(201, _repo_json(made.full_name, made.id, made.visibility, _base(call)))


async def delete_repo(call: Call) -> Reply:
    await call.services.admin.delete_repo(
        call.path["owner"], call.path["repo"], by=call.signed_in()
    )
    return Reply(204)


def _permission(call: Call) -> RepoRole:
    raw = call.field("permission", str, required=False) or "push"
    if raw not in PERMISSIONS:
        raise InvalidRequestError('"permission" must be pull, triage, push, maintain or admin')
    return PERMISSIONS[raw]


async def set_collaborator(call: Call) -> Reply:
    await call.services.admin.set_collaborator(
        call.path["owner"],
        call.path["repo"],
        _permission(call),
        user=call.path["username"],
        by=call.signed_in(),
    )
    return Reply(204)


async def set_team_repo(call: Call) -> Reply:
    team = f"{call.path['org']}/{call.path['team_slug']}"
    await call.services.admin.set_collaborator(
        call.path["owner"], call.path["repo"], _permission(call), team=team, by=call.signed_in()
    )
    return Reply(204)


async def own_tokens(call: Call) -> Reply:
    found = await call.services.admin.own_tokens(by=call.signed_in())
    page, headers = paginate(call, [_token(t) for t in found])
    return Reply(200, page, headers)


async def create_token(call: Call) -> Reply:
    by = call.signed_in()
    raw = call.field("scopes", list)
    try:
        scopes = frozenset(PatScope(s) for s in raw)
    except (ValueError, TypeError):
        raise InvalidRequestError(
            '"scopes" must list read:packages, write:packages, delete:packages'
        ) from None
    days = call.field("expires_in_days", int, required=False)
    if days is not None and not 1 <= days <= 3650:
        raise InvalidRequestError('"expires_in_days" must be between 1 and 3650')
    made = await call.services.admin.create_own_pat(
        scopes,
        expires_in=None if days is None else timedelta(days=days),
        name=call.field("name", str, required=False),
        by=by,
    )
    return Reply(201, {"id": made.id, "token": made.secret, "scopes": sorted(scopes)})


async def revoke_own_token(call: Call) -> Reply:
    await call.services.admin.revoke_own(call.path["token_id"], by=call.signed_in())
    return Reply(204)


async def all_tokens(call: Call) -> Reply:
    found = await call.services.admin.all_tokens(
        call.query.get("user") or None, by=call.signed_in()
    )
    page, headers = paginate(call, [_token(t) for t in found])
    return Reply(200, page, headers)


async def revoke_any_token(call: Call) -> Reply:
    await call.services.admin.revoke_any(call.path["token_id"], by=call.signed_in())
    return Reply(204)


async def create_runner(call: Call) -> Reply:
    serves = call.field("serves", list, required=False) or []
    if not all(isinstance(x, str) for x in serves):
        raise InvalidRequestError('"serves" must list owners or OWNER/NAME repositories')
    made = await call.services.admin.create_runner(
        call.field("name", str), tuple(serves), by=call.signed_in()
    )
    return Reply(201, {"id": made.id, "token": made.secret})


def _runner(call: Call) -> str:
    secret = presented_secret(call.request)
    if not secret:
        raise UnauthorizedError("a runner credential is required")
    return call.services.tokens.authenticate_runner(secret)


async def mint_job_token(call: Call) -> Reply:
    runner_id = _runner(call)
    listed = call.field("permissions", dict, required=False)
    permissions = None
    if listed is not None:
        permissions = credentials.parse_permissions(",".join(f"{k}={v}" for k, v in listed.items()))
    ttl = call.field("ttl", int, required=False)
    run_id = call.body.get("run_id") if isinstance(call.body, dict) else None
    made = await call.services.tokens.mint_job_token(
        JobTokenRequest(
            call.field("repository", str),
            permissions=permissions,
            ttl=None if ttl is None else timedelta(seconds=ttl),
            run_id=None if run_id is None else str(run_id),
            fork=bool(call.field("fork", bool, required=False)),
        ),
        runner_id=runner_id,
    )
    return Reply(201, made)


async def revoke_job_token(call: Call) -> Reply:
    runner_id = _runner(call)
    await call.services.tokens.revoke_job_token(call.path["token_id"], runner_id=runner_id)
    return Reply(204)


ACCOUNT = shapes.obj(
    ["login", "id", "type"],
    login=shapes.STR,
    id=shapes.INT,
    type={"enum": ["User", "Organization"]},
    site_admin=shapes.BOOL,
    url=shapes.STR,
)
REPO = shapes.obj(["id", "name", "full_name"], id=shapes.INT, name=shapes.STR, full_name=shapes.STR)
TOKEN = shapes.obj(
    ["id", "kind"],
    id=shapes.STR,
    kind=shapes.STR,
    name=shapes.NULL_STR,
    scopes=shapes.STR,
    permissions=shapes.STR,
    created_at=shapes.STR,
    expires_at=shapes.NULL_STR,
    revoked_at=shapes.NULL_STR,
    last_used_at=shapes.NULL_STR,
    user_id={"type": ["integer", "null"]},
    repo_id={"type": ["integer", "null"]},
)
NEW_SECRET = shapes.obj(["id", "token"], id=shapes.STR, token=shapes.STR)
MEMBERSHIP = shapes.obj(["state", "role"], state=shapes.STR, role=shapes.STR, user=shapes.STR)


def _p(*names: str) -> tuple[Param, ...]:
    return tuple(Param(n, "path", shapes.STR, True) for n in names)


def routes() -> list[ApiRoute]:
    perm = shapes.obj([], permission={"enum": list(PERMISSIONS)})
    repo_body = shapes.obj(
        ["name"],
        name=shapes.STR,
        visibility={"enum": ["public", "private", "internal"]},
        private=shapes.BOOL,
    )
    done = {204: None, **ERRORS}
    return [
        ApiRoute("GET", "/user", whoami, "The authenticated user", TAG,
                 responses={200: ACCOUNT, **ERRORS}),
        ApiRoute("GET", "/users/{username}", get_account, "A user or organization", TAG,
                 _p("username"), responses={200: ACCOUNT, **ERRORS}),
        ApiRoute("POST", "/admin/users", create_user, "Create a user (site admin)", TAG,
                 body=shapes.obj(["login"], login=shapes.STR, site_admin=shapes.BOOL,
                                 password=shapes.STR),
                 responses={201: ACCOUNT, 409: shapes.ERROR, **ERRORS}),
        ApiRoute("POST", "/admin/organizations", create_org,
                 "Create an organization (site admin)", TAG,
                 body=shapes.obj(["login", "admin"], login=shapes.STR, admin=shapes.STR),
                 responses={201: ACCOUNT, 409: shapes.ERROR, **ERRORS}),
        ApiRoute("GET", "/orgs/{org}/members", members, "Members of an organization", TAG,
                 (*_p("org"), *PAGE_PARAMS), responses={200: shapes.array(
                     shapes.obj(["login", "id", "role"], login=shapes.STR, id=shapes.INT,
                                role=shapes.STR)), **ERRORS}, paginated=True),
        ApiRoute("PUT", "/orgs/{org}/memberships/{username}", set_membership,
                 "Add a member or change their role", TAG, _p("org", "username"),
                 body=shapes.obj([], role={"enum": ["admin", "member"]}),
                 responses={200: MEMBERSHIP, **ERRORS}),
        ApiRoute("DELETE", "/orgs/{org}/memberships/{username}", remove_membership,
                 "Remove a member", TAG, _p("org", "username"), responses=done),
        ApiRoute("POST", "/orgs/{org}/teams", create_team, "Create a team", TAG, _p("org"),
                 body=shapes.obj(["name"], name=shapes.STR),
                 responses={201: shapes.obj(["id", "slug"], id=shapes.INT, slug=shapes.STR),
                            409: shapes.ERROR, **ERRORS}),
        ApiRoute("PUT", "/orgs/{org}/teams/{team_slug}/memberships/{username}", add_team_member,
                 "Add a team member", TAG, _p("org", "team_slug", "username"),
                 body=shapes.obj([], role={"enum": ["member", "maintainer"]}),
                 responses={200: MEMBERSHIP, **ERRORS}),
        ApiRoute("PUT", "/orgs/{org}/teams/{team_slug}/repos/{owner}/{repo}", set_team_repo,
                 "Give a team a role on a repository", TAG,
                 _p("org", "team_slug", "owner", "repo"), body=perm, responses=done),
        ApiRoute("POST", "/orgs/{org}/repos", create_org_repo, "Create an org repository", TAG,
                 _p("org"), body=repo_body, responses={201: REPO, 409: shapes.ERROR, **ERRORS}),
        ApiRoute("POST", "/user/repos", create_user_repo, "Create a repository of yours", TAG,
                 body=repo_body, responses={201: REPO, 409: shapes.ERROR, **ERRORS}),
        ApiRoute("DELETE", "/repos/{owner}/{repo}", delete_repo, "Delete a repository", TAG,
                 _p("owner", "repo"), responses=done),
        ApiRoute("PUT", "/repos/{owner}/{repo}/collaborators/{username}", set_collaborator,
                 "Add a collaborator or change their permission", TAG,
                 _p("owner", "repo", "username"), body=perm, responses=done),
        ApiRoute("GET", "/user/tokens", own_tokens, "Your tokens (metadata)", TAG, PAGE_PARAMS,
                 responses={200: shapes.array(TOKEN), **ERRORS}, paginated=True),
        ApiRoute("POST", "/user/tokens", create_token, "Create a PAT (shown once)", TAG,
                 body=shapes.obj(["scopes"], scopes=shapes.array(
                     {"enum": [s.value for s in PatScope]}), expires_in_days=shapes.INT,
                     name=shapes.STR),
                 responses={201: shapes.obj(["id", "token", "scopes"], id=shapes.STR,
                                            token=shapes.STR, scopes=shapes.array(shapes.STR)),
                            **ERRORS}),
        ApiRoute("DELETE", "/user/tokens/{token_id}", revoke_own_token, "Revoke your token",
                 TAG, _p("token_id"), responses=done),
        ApiRoute("GET", "/admin/tokens", all_tokens, "Every token's metadata (site admin)", TAG,
                 (Param("user", "query", shapes.STR), *PAGE_PARAMS),
                 responses={200: shapes.array(TOKEN), **ERRORS}, paginated=True),
        ApiRoute("DELETE", "/admin/tokens/{token_id}", revoke_any_token,
                 "Revoke any token (site admin)", TAG, _p("token_id"), responses=done),
        ApiRoute("POST", "/admin/runners", create_runner, "Create a runner credential", TAG,
                 body=shapes.obj(["name"], name=shapes.STR, serves=shapes.array(shapes.STR)),
                 responses={201: NEW_SECRET, **ERRORS}),
        ApiRoute("POST", "/actions/job-tokens", mint_job_token,
                 "Mint a job token (runner credential)", TAG,
                 body=shapes.obj(["repository"], repository=shapes.STR,
                                 permissions={"type": "object"}, ttl=shapes.INT,
                                 run_id=shapes.STR, fork=shapes.BOOL),
                 responses={201: {"type": "object"}, **ERRORS}, runner=True),
        ApiRoute("DELETE", "/actions/job-tokens/{token_id}", revoke_job_token,
                 "Revoke a job token (the runner that minted it)", TAG, _p("token_id"),
                 responses=done, runner=True),
    ]  # fmt: skip
