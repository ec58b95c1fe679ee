"""User settings: personal access tokens (list, create with scopes and expiry, revoke)."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from cargohold.authz.model import PatScope
from cargohold.errors import DeniedError, InvalidRequestError, NotFoundError
from cargohold.web.pipeline import SERVICES
from cargohold.web.ui.auth import require_user
from cargohold.web.ui.security import flash, identity, render

EXPIRY_DAYS = {"7": 7, "30": 30, "90": 90, "365": 365, "never": None}


async def tokens(request: web.Request) -> web.StreamResponse:
    await require_user(request)
    found = await request.app[SERVICES].personal_tokens.list(await identity(request))
    return await render(request, "tokens.html", tokens=found, scopes=list(PatScope))


async def create(request: web.Request) -> web.StreamResponse:
    await require_user(request)
    form = await request.post()
    scopes = frozenset(PatScope(x) for x in form.getall("scopes", []) if x in set(PatScope))
    expiry = str(form.get("expires", "30"))
    name = str(form.get("name", "")).strip()[:200] or None
    services = request.app[SERVICES]
    who = await identity(request)
    try:
        if expiry not in EXPIRY_DAYS:
            raise InvalidRequestError("choose an expiry")
        days = EXPIRY_DAYS[expiry]
        made = await services.personal_tokens.create(
            who, scopes, expires_in=timedelta(days=days) if days else None, name=name
        )
    except InvalidRequestError as err:
        await flash(request, "error", err.message)
        raise web.HTTPSeeOther("/settings/tokens") from None
    found = await services.personal_tokens.list(who)
    # Shown on this response only: never stored, never put in the session or a redirect.
    return await render(request, "tokens.html", tokens=found, scopes=list(PatScope), new_token=made)


async def revoke(request: web.Request) -> web.StreamResponse:
    await require_user(request)
    token_id = request.match_info["token_id"]
    try:
        await request.app[SERVICES].personal_tokens.revoke(await identity(request), token_id)
    except DeniedError:
        raise
    except (InvalidRequestError, NotFoundError) as err:
        await flash(request, "error", err.message)
    else:
        await flash(request, "ok", f"Revoked token {token_id}.")
    raise web.HTTPSeeOther("/settings/tokens")
