"""Sign in (username and password, or username and a personal access token) and sign out."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from cargohold.errors import TooManyRequestsError, UnauthorizedError
from cargohold.web.pipeline import SERVICES
from cargohold.web.ui.security import get_session, identity, render, start_session


def _next(value: object) -> str:
    """Only a local path may be the place to go after signing in (no open redirect)."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/"


async def login_form(request: web.Request) -> web.StreamResponse:
    return await render(request, "login.html", next=_next(request.query.get("next")))


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    login_name = str(form.get("login", ""))[:100]
    secret = str(form.get("password", ""))
    target = _next(form.get("next"))
    try:
        signed = await request.app[SERVICES].signin.sign_in(
            login_name, secret, request.remote or "unknown"
        )
    except (UnauthorizedError, TooManyRequestsError) as err:
        status = 429 if isinstance(err, TooManyRequestsError) else 401
        response = await render(
            request, "login.html", status=status, error=err.message, login=login_name, next=target
        )
        response.headers.update({k: v for k, v in err.headers.items() if k == "Retry-After"})
        return response
    await start_session(request, signed)
    raise web.HTTPSeeOther(target)


async def logout(request: web.Request) -> web.StreamResponse:
    session = await get_session(request)
    session.invalidate()
    raise web.HTTPSeeOther("/login")


async def require_user(request: web.Request) -> None:
    """Redirect to the sign-in page unless signed in."""
    who = await identity(request)
    if who.principal.login is None:
        raise web.HTTPSeeOther(f"/login?next={quote(request.path_qs, safe='/')}")
