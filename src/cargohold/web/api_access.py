"""What a repository's jobs may do with a package: the read-only API ``workflow lint`` asks.

    GET /api/v3/packages/container/{owner}/{name...}/access?repository=OWNER/NAME
    -> 200 {"package", "exists", "repository", "role", "sources": [{"kind", "role", "why"}],
            "may_create", "owner_default_job_permission"}

Authorized as reading package settings: the caller (HTTP Basic with a PAT, or a bearer from
``/token``) must hold ``admin`` on the package (for a missing package: on its namespace), and
the decision is audited like any other. The answer is the role gate's view for the
repository's job tokens (``effective_role``, no token narrowing) -- the same data as
``cargohold why OWNER/PKG --repository OWNER/NAME``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cargohold.authz.decide import Source, effective_role, may_create
from cargohold.authz.model import Action, Principal, PrincipalKind, RepoRef, Role
from cargohold.authz.service import authorize, state_for
from cargohold.db.raw import Reader
from cargohold.errors import InvalidRequestError, UnauthorizedError
from cargohold.oci.names import validate_name
from cargohold.web.pipeline import SERVICES, identify, json_body, presented


def _repository(db: Reader, ref: str) -> Principal | None:
    owner, sep, name = ref.partition("/")
    if not sep or not owner or not name or "/" in name:
        raise InvalidRequestError("repository must be OWNER/NAME")
    row = db.one(
        "SELECT r.id, r.owner_id FROM repositories r JOIN accounts a ON a.id = r.owner_id"
        " WHERE a.login = :owner AND r.name = :name AND r.deleted_at IS NULL",
        owner=owner,
        name=name,
    )
    if row is None:
        return None
    return Principal(PrincipalKind.REPOSITORY, repo=RepoRef(int(row[0]), ref, int(row[1])))


async def package_access(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    name = validate_name(f"{request.match_info['owner']}/{request.match_info['name']}")
    repository = request.query.get("repository", "")
    if not repository:
        raise InvalidRequestError("give ?repository=OWNER/NAME")
    given = presented(request, services)
    if given.secret is None and given.bearer is None:
        raise UnauthorizedError("authentication required: a package admin's token is required")

    def read(db: Reader) -> dict[str, Any]:
        identity = identify(db, services, given)
        authorize(
            db,
            identity,
            Action.ADMIN,
            name,
            base_url=services.settings.external_url,
            audit=services.audit,
            memo=services.memo,
        )
        principal = _repository(db, repository)
        state = state_for(db, name, services.memo)
        # An unknown repository and one without a role look the same: a package admin learns
        # nothing here about other owners' private repositories.
        role: Role = Role.NONE
        sources: tuple[Source, ...] = ()
        if principal is not None:
            role, sources = effective_role(principal, state)
        default = db.scalar(
            "SELECT default_job_permission FROM accounts WHERE login = :login",
            login=repository.split("/")[0],
        )
        return {
            "package": name,
            "exists": state.exists,
            "repository": repository,
            "role": role.label,
            "sources": [
                {"kind": s.kind, "role": s.role.label, "why": s.description} for s in sources
            ],
            "may_create": principal is not None
            and not state.exists
            and may_create(principal, state),
            "owner_default_job_permission": default,
        }

    return json_body(services.fast(read))


def add_routes(app: web.Application) -> None:
    app.router.add_route(
        "GET", r"/api/v3/packages/container/{owner}/{name:.+}/access", package_access
    )
