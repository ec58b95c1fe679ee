"""What GitHub has no API for: package settings, effective access and the audit log.

Under each package path ``{ns}/packages/container/{package_name}``:

    GET    /settings                                   everything on the settings page
    PUT    /visibility          {"visibility"}
    PUT    /link                {"repository"}         DELETE /link
    PUT    /inheritance         {"inherit"}
    GET    /access                                     users and teams (Manage access)
    PUT    /access/users/{login}     {"role"}         DELETE
    PUT    /access/teams/{team_slug}  {"role"}         DELETE
    GET    /actions-access                             Manage Actions access
    POST   /actions-access      {"repository", "role"} (add)
    PUT    /actions-access/{owner}/{repo}  {"role"}    (add or change)   DELETE (remove)
    GET    /why?user=U | ?repository=OWNER/NAME        effective role and every source of it
    GET    /audit?actor=&decision=&since=&until=&before=&per_page=

and ``GET /audit`` (site administrators), ``GET|PATCH /orgs/{org}/package-settings``.
Settings need package admin, reads need read; a caller who cannot read gets 404.
"""

from __future__ import annotations

from datetime import datetime

from cargohold.authz.model import JobDefault, Role, Visibility
from cargohold.errors import InvalidRequestError
from cargohold.registry.explain_service import AuditFilter
from cargohold.registry.package_settings import PackageSettings
from cargohold.web.api import shapes
from cargohold.web.api.framework import ApiRoute, Call, Handler, Param, Reply
from cargohold.web.api.packages import NAME_PARAM, NAMESPACES, TYPE_PARAM, Namespace, package_name

ERRORS = {400: shapes.ERROR, 401: shapes.ERROR, 403: shapes.ERROR, 404: shapes.ERROR}


def _role(call: Call) -> Role:
    raw = call.field("role", str)
    if raw not in ("read", "write", "admin"):
        raise InvalidRequestError('"role" must be read, write or admin')
    return Role.parse(raw)


def _settings(found: PackageSettings) -> Reply:
    return Reply(200, found.as_dict())


def _time(call: Call, key: str) -> datetime | None:
    raw = call.query.get(key)
    if not raw:
        return None
    try:
        at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequestError(f"{key} must be an ISO 8601 time") from None
    if at.tzinfo is None:
        raise InvalidRequestError(f"{key} must carry a time zone (e.g. Z)")
    return at


def _int(call: Call, key: str, default: int | None, high: int) -> int | None:
    raw = call.query.get(key)
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= high:
        raise InvalidRequestError(f"{key} must be an integer between 1 and {high}")
    return int(raw)


def audit_filter(call: Call, package: str | None) -> AuditFilter:
    return AuditFilter(
        package=package,
        actor=call.query.get("actor") or None,
        decision=call.query.get("decision") or None,
        since=_time(call, "since"),
        until=_time(call, "until"),
        before=_int(call, "before", None, 2**62),
        limit=_int(call, "per_page", 50, 1000) or 50,
    )


def handlers(ns: Namespace) -> dict[str, Handler]:
    def name(call: Call) -> str:
        return package_name(ns, call)

    async def settings(call: Call) -> Reply:
        return _settings(await call.services.package_settings.describe(name(call), by=call.by))

    async def visibility(call: Call) -> Reply:
        raw = call.field("visibility", str)
        try:
            value = Visibility(raw)
        except ValueError:
            raise InvalidRequestError('"visibility" must be public, private or internal') from None
        found = await call.services.package_settings.set_visibility(name(call), value, by=call.by)
        return _settings(found)

    async def link(call: Call) -> Reply:
        repository = call.field("repository", str)
        found = await call.services.package_settings.link(name(call), repository, by=call.by)
        return _settings(found)

    async def unlink(call: Call) -> Reply:
        return _settings(await call.services.package_settings.link(name(call), None, by=call.by))

    async def inheritance(call: Call) -> Reply:
        on = call.field("inherit", bool)
        return _settings(
            await call.services.package_settings.set_inherit(name(call), on, by=call.by)
        )

    async def access(call: Call) -> Reply:
        found = await call.services.package_settings.describe(name(call), by=call.by)
        return Reply(200, found.as_dict()["access"])

    async def grant_user(call: Call) -> Reply:
        found = await call.services.package_settings.grant(
            name(call), _role(call), user=call.path["login"], by=call.by
        )
        return _settings(found)

    async def revoke_user(call: Call) -> Reply:
        found = await call.services.package_settings.revoke_grant(
            name(call), user=call.path["login"], by=call.by
        )
        return _settings(found)

    def team(call: Call) -> str:
        return f"{ns.owner(call)}/{call.path['team_slug']}"

    async def grant_team(call: Call) -> Reply:
        found = await call.services.package_settings.grant(
            name(call), _role(call), team=team(call), by=call.by
        )
        return _settings(found)

    async def revoke_team(call: Call) -> Reply:
        found = await call.services.package_settings.revoke_grant(
            name(call), team=team(call), by=call.by
        )
        return _settings(found)

    async def actions(call: Call) -> Reply:
        found = await call.services.package_settings.describe(name(call), by=call.by)
        return Reply(200, found.as_dict()["actions_access"])

    async def actions_add(call: Call) -> Reply:
        repository = call.field("repository", str)
        found = await call.services.package_settings.add_actions_access(
            name(call), repository, _role(call), by=call.by
        )
        return Reply(201, found.as_dict())

    def repo(call: Call) -> str:
        return f"{call.path['owner']}/{call.path['repo']}"

    async def actions_set(call: Call) -> Reply:
        found = await call.services.package_settings.add_actions_access(
            name(call), repo(call), _role(call), by=call.by
        )
        return _settings(found)

    async def actions_remove(call: Call) -> Reply:
        found = await call.services.package_settings.remove_actions_access(
            name(call), repo(call), by=call.by
        )
        return _settings(found)

    async def why(call: Call) -> Reply:
        found = await call.services.explain.why(
            name(call),
            user=call.query.get("user") or None,
            repository=call.query.get("repository") or None,
            by=call.by,
        )
        return Reply(200, found.as_dict())

    async def audit(call: Call) -> Reply:
        entries = await call.services.explain.audit(audit_filter(call, name(call)), by=call.by)
        return Reply(200, entries)

    return {
        "settings": settings,
        "visibility": visibility,
        "link": link,
        "unlink": unlink,
        "inheritance": inheritance,
        "access": access,
        "grant_user": grant_user,
        "revoke_user": revoke_user,
        "grant_team": grant_team,
        "revoke_team": revoke_team,
        "actions": actions,
        "actions_add": actions_add,
        "actions_set": actions_set,
        "actions_remove": actions_remove,
        "why": why,
        "audit": audit,
    }


VISIBILITY = {"enum": ["public", "private", "internal"]}
ROLE_BODY = shapes.obj(["role"], role=shapes.ROLE)
ACCESS_LIST = shapes.array(shapes.SETTINGS["properties"]["access"]["items"])
ACTIONS_LIST = shapes.array(shapes.SETTINGS["properties"]["actions_access"]["items"])
WHY = shapes.obj(
    ["package", "exists", "who", "role", "sources"],
    package=shapes.STR,
    exists=shapes.BOOL,
    who=shapes.STR,
    role=shapes.STR,
    sources=shapes.array(
        shapes.obj(["kind", "role", "why"], kind=shapes.STR, role=shapes.STR, why=shapes.STR)
    ),
)
AUDIT_ENTRY = shapes.obj(
    ["id", "at", "actor", "action", "result"],
    id=shapes.INT,
    at=shapes.TIME,
    actor=shapes.STR,
    credential_id=shapes.NULL_STR,
    package=shapes.NULL_STR,
    action=shapes.STR,
    result={"enum": ["allowed", "denied"]},
    gate=shapes.NULL_STR,
    reason=shapes.NULL_STR,
    count=shapes.INT,
)
AUDIT_PARAMS = (
    Param("actor", "query", shapes.STR, description='e.g. "user alice"'),
    Param("decision", "query", {"enum": ["allowed", "denied"]}),
    Param("since", "query", {"type": "string", "format": "date-time"}),
    Param("until", "query", {"type": "string", "format": "date-time"}),
    Param("before", "query", {"type": "integer", "minimum": 1}, description="entries below id"),
    Param("per_page", "query", {"type": "integer", "minimum": 1, "maximum": 1000}),
)


def routes() -> list[ApiRoute]:
    out: list[ApiRoute] = []
    tag = "package settings"
    for ns in NAMESPACES:
        h = handlers(ns)
        pkg = f"{ns.prefix}/packages/{{package_type}}/{{package_name}}"
        p = (*ns.params(), TYPE_PARAM, NAME_PARAM)
        user_p = (*p, Param("login", "path", shapes.STR, True))
        team_p = (*p, Param("team_slug", "path", shapes.STR, True))
        repo_p = (
            *p,
            Param("owner", "path", shapes.STR, True),
            Param("repo", "path", shapes.STR, True),
        )
        settings = {200: shapes.SETTINGS, **ERRORS}
        out += [
            ApiRoute("GET", f"{pkg}/settings", h["settings"], "Package settings", tag, p,
                     responses=settings),
            ApiRoute("PUT", f"{pkg}/visibility", h["visibility"], "Change visibility", tag, p,
                     body=shapes.obj(["visibility"], visibility=VISIBILITY),
                     responses=settings),
            ApiRoute("PUT", f"{pkg}/link", h["link"], "Link to a repository", tag, p,
                     body=shapes.obj(["repository"], repository=shapes.STR), responses=settings),
            ApiRoute("DELETE", f"{pkg}/link", h["unlink"], "Unlink from its repository", tag, p,
                     responses=settings),
            ApiRoute("PUT", f"{pkg}/inheritance", h["inheritance"],
                     "Inherit access from the linked repository (on/off)", tag, p,
                     body=shapes.obj(["inherit"], inherit=shapes.BOOL), responses=settings),
            ApiRoute("GET", f"{pkg}/access", h["access"], "Manage access: users and teams", tag,
                     p, responses={200: ACCESS_LIST, **ERRORS}),
            ApiRoute("PUT", f"{pkg}/access/users/{{login}}", h["grant_user"],
                     "Give a user a role", tag, user_p, body=ROLE_BODY, responses=settings),
            ApiRoute("DELETE", f"{pkg}/access/users/{{login}}", h["revoke_user"],
                     "Remove a user's role", tag, user_p, responses=settings),
            ApiRoute("PUT", f"{pkg}/access/teams/{{team_slug}}", h["grant_team"],
                     "Give a team a role", tag, team_p, body=ROLE_BODY, responses=settings),
            ApiRoute("DELETE", f"{pkg}/access/teams/{{team_slug}}", h["revoke_team"],
                     "Remove a team's role", tag, team_p, responses=settings),
            ApiRoute("GET", f"{pkg}/actions-access", h["actions"], "Manage Actions access", tag,
                     p, responses={200: ACTIONS_LIST, **ERRORS}),
            ApiRoute("POST", f"{pkg}/actions-access", h["actions_add"],
                     "Add a repository to Actions access", tag, p,
                     body=shapes.obj(["repository", "role"], repository=shapes.STR,
                                     role=shapes.ROLE),
                     responses={201: shapes.SETTINGS, **ERRORS}),
            ApiRoute("PUT", f"{pkg}/actions-access/{{owner}}/{{repo}}", h["actions_set"],
                     "Add a repository to Actions access or change its role", tag, repo_p,
                     body=ROLE_BODY, responses=settings),
            ApiRoute("DELETE", f"{pkg}/actions-access/{{owner}}/{{repo}}", h["actions_remove"],
                     "Remove a repository from Actions access", tag, repo_p, responses=settings),
            ApiRoute("GET", f"{pkg}/why", h["why"],
                     "Effective access of a user or a repository's jobs, and why", tag,
                     (*p, Param("user", "query", shapes.STR),
                      Param("repository", "query", shapes.STR)),
                     responses={200: WHY, **ERRORS}),
            ApiRoute("GET", f"{pkg}/audit", h["audit"], "Audit log of the package", tag,
                     (*p, *AUDIT_PARAMS), responses={200: shapes.array(AUDIT_ENTRY), **ERRORS}),
        ]  # fmt: skip
    out += [
        ApiRoute(
            "GET",
            "/audit",
            _audit_all,
            "Audit log (site administrators)",
            tag,
            (Param("package", "query", shapes.STR), *AUDIT_PARAMS),
            responses={200: shapes.array(AUDIT_ENTRY), **ERRORS},
        ),
        ApiRoute(
            "GET",
            "/orgs/{org}/package-settings",
            _org_settings,
            "Organization package settings",
            tag,
            (Param("org", "path", shapes.STR, True),),
            responses={200: ORG_SETTINGS, **ERRORS},
        ),
        ApiRoute(
            "PATCH",
            "/orgs/{org}/package-settings",
            _set_org_settings,
            "Change organization package settings",
            tag,
            (Param("org", "path", shapes.STR, True),),
            body={
                "type": "object",
                "properties": {
                    "member_create_visibilities": shapes.array(
                        {"enum": ["public", "private", "internal"]}
                    ),
                    "default_visibility": {"enum": ["public", "private", "internal"]},
                    "inherit_default": shapes.BOOL,
                    "default_job_permission": {"enum": ["restricted", "permissive"]},
                },
            },
            responses={200: ORG_SETTINGS, **ERRORS},
        ),
    ]
    return out


ORG_SETTINGS = shapes.obj(
    [
        "org",
        "member_create_visibilities",
        "default_visibility",
        "inherit_default",
        "default_job_permission",
    ],
    org=shapes.STR,
    member_create_visibilities=shapes.array(shapes.STR),
    default_visibility=shapes.STR,
    inherit_default=shapes.BOOL,
    default_job_permission=shapes.STR,
)


async def _audit_all(call: Call) -> Reply:
    package = call.query.get("package") or None
    return Reply(200, await call.services.explain.audit(audit_filter(call, package), by=call.by))


def _org_json(found: object) -> Reply:
    from cargohold.accounts.account_service import OrgSettings

    assert isinstance(found, OrgSettings)
    return Reply(
        200,
        {
            "org": found.org,
            "member_create_visibilities": sorted(v.value for v in found.member_create_visibilities),
            "default_visibility": found.default_visibility.value,
            "inherit_default": found.inherit_default,
            "default_job_permission": found.default_job_permission.value,
        },
    )


async def _org_settings(call: Call) -> Reply:
    by = call.signed_in()
    return _org_json(await call.services.admin.org_settings(call.path["org"], by=by))


def _enum_list(call: Call, key: str) -> frozenset[Visibility] | None:
    raw = call.field(key, list, required=False)
    if raw is None:
        return None
    try:
        return frozenset(Visibility(v) for v in raw)
    except (ValueError, TypeError):
        raise InvalidRequestError(f'"{key}" must list public, private or internal') from None


async def _set_org_settings(call: Call) -> Reply:
    by = call.signed_in()
    default = call.field("default_visibility", str, required=False)
    job = call.field("default_job_permission", str, required=False)
    try:
        visibility = Visibility(default) if default is not None else None
        job_default = JobDefault(job) if job is not None else None
    except ValueError:
        raise InvalidRequestError("a value is not one of the allowed ones") from None
    found = await call.services.admin.set_org_settings(
        call.path["org"],
        member_create_visibilities=_enum_list(call, "member_create_visibilities"),
        default_visibility=visibility,
        inherit_default=call.field("inherit_default", bool, required=False),
        default_job_permission=job_default,
        by=by,
    )
    return _org_json(found)
