"""What a repository's jobs may do with a package: the read-only API ``workflow lint`` asks.

    GET /api/v3/packages/container/{owner}/{name...}/access?repository=OWNER/NAME
    -> 200 {"package", "exists", "repository", "role", "sources": [{"kind", "role", "why"}],
            "may_create", "owner_default_job_permission"}

Authorized as reading package settings: the caller (HTTP Basic with a PAT, or a bearer from
``/token``) must hold ``admin`` on the package (for a missing package: on its namespace), and
the decision is audited like any other. The answer is ``AccessService.job_outlook``: the role
gate's view for the repository's job tokens, the same data as
``cargohold why OWNER/PKG --repository OWNER/NAME``.
"""

from __future__ import annotations

from aiohttp import web

from cargohold.authz.model import Action
from cargohold.authz.service import authorize
from cargohold.db.raw import Reader
from cargohold.errors import InvalidRequestError, UnauthorizedError
from cargohold.oci.names import validate_name
from cargohold.web.pipeline import SERVICES, json_body, presented


async def package_access(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    name = validate_name(f"{request.match_info['owner']}/{request.match_info['name']}")
    repository = request.query.get("repository", "")
    if not repository:
        raise InvalidRequestError("give ?repository=OWNER/NAME")
    given = presented(request)
    if given.secret is None and given.bearer is None:
        raise UnauthorizedError("authentication required: a package admin's token is required")

    def check(db: Reader) -> None:
        identity = services.authn.authenticate(db, given, None)
        authorize(
            db,
            identity,
            Action.ADMIN,
            name,
            base_url=services.settings.external_url,
            audit=services.audit,
            memo=services.memo,
        )

    services.read_on_loop(check)
    outlook = await services.access.job_outlook(name, repository)
    return json_body(outlook.as_dict())


def add_routes(app: web.Application) -> None:
    app.router.add_route(
        "GET", r"/api/v3/packages/container/{owner}/{name:.+}/access", package_access
    )
