"""The runner API: a CI system holding a runner credential mints and revokes job tokens.

    POST   /api/v1/job-tokens        {"repository": "acme/shop",
                                      "permissions": {"packages": "write"},
                                      "ttl": 3600, "run_id": "42", "fork": false}
           -> 201 {"id", "token", "repository", "permissions", "expires_at", "run_id"}
    DELETE /api/v1/job-tokens/{id}   -> 204 (the job ended)

Authenticated with ``Authorization: Bearer chr_...`` (or Basic with the secret as password).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from aiohttp import web

from cargohold.accounts import credentials
from cargohold.accounts.token_service import JobTokenRequest
from cargohold.errors import InvalidRequestError, UnauthorizedError
from cargohold.web.pipeline import SERVICES, json_body, presented


def _runner(request: web.Request) -> str:
    """The id of the runner credential the request presents, or 401."""
    services = request.app[SERVICES]
    given = presented(request)
    secret = given.bearer or given.secret
    if not secret:
        raise UnauthorizedError("authentication required: a runner credential is required")
    return services.tokens.authenticate_runner(secret)


async def mint(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    runner_id = _runner(request)
    try:
        body: Any = json.loads(await request.read() or b"{}")
    except ValueError as exc:
        raise InvalidRequestError("the body must be JSON") from exc
    if not isinstance(body, dict) or not isinstance(body.get("repository"), str):
        raise InvalidRequestError('the body must be an object with "repository": "OWNER/NAME"')
    listed = body.get("permissions")
    if listed is not None:
        if not isinstance(listed, dict):
            raise InvalidRequestError('"permissions" must be an object')
        # {} is an empty block: every permission none (only a missing block takes the default).
        listed = credentials.parse_permissions(",".join(f"{k}={v}" for k, v in listed.items()))
    ttl = body.get("ttl", services.settings.job_token_ttl)
    if not isinstance(ttl, int) or isinstance(ttl, bool):
        raise InvalidRequestError('"ttl" must be a number of seconds')
    run_id = body.get("run_id")
    request_ = JobTokenRequest(
        body["repository"],
        permissions=listed,
        ttl=timedelta(seconds=ttl),
        run_id=None if run_id is None else str(run_id),
        fork=bool(body.get("fork", False)),
    )
    result = await services.tokens.mint_job_token(request_, runner_id=runner_id)
    return json_body(result, status=201)


async def revoke(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    runner_id = _runner(request)
    await services.tokens.revoke_job_token(request.match_info["id"], runner_id=runner_id)
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    app.router.add_route("POST", "/api/v1/job-tokens", mint)
    app.router.add_route("DELETE", "/api/v1/job-tokens/{id}", revoke)
