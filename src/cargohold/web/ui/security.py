"""What every UI response goes through: the session, CSRF, security headers, HTML errors.

Only routes named ``ui.*`` are touched (``ui_middleware`` returns at once for the registry API,
so the OCI hot path pays nothing). For those:

- the session lives in an encrypted cookie (``EncryptedCookieStorage``, Fernet; key derived from
  the server secret), ``HttpOnly``, ``SameSite=Lax``, and ``Secure`` when the request came over
  TLS, ``base_url`` is https or ``cookie_secure`` is set;
- every POST must carry the session's CSRF token (``csrf_token`` form field), compared in
  constant time, or it is refused with 403 before the handler runs;
- a strict Content-Security-Policy (only same-origin scripts and styles, no inline script, no
  framing), ``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff``, no referrer to other
  sites, and ``Cache-Control: no-store`` on pages;
- a ``CargoholdError`` becomes an HTML page with the error's status and message.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import Session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from cargohold.accounts.secrets import Keys
from cargohold.accounts.signin_service import SignedIn
from cargohold.authz.model import ANONYMOUS_IDENTITY, Identity
from cargohold.errors import CargoholdError
from cargohold.web.pipeline import SERVICES

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

COOKIE = "cargohold_session"
SESSION_MAX_AGE = 12 * 3600
CSRF_FIELD = "csrf_token"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
IDENTITY: web.RequestKey[Identity] = web.RequestKey("ui_identity", Identity)
# aiohttp_session's own middleware and helpers keep these under plain string keys, which aiohttp
# warns about; this module does the same small job with typed keys.
SESSION: web.RequestKey[Session] = web.RequestKey("ui_session", Session)
STORAGE: web.RequestKey[EncryptedCookieStorage] = web.RequestKey(
    "ui_session_storage", EncryptedCookieStorage
)
STORAGES: web.AppKey[tuple[EncryptedCookieStorage, EncryptedCookieStorage]] = web.AppKey(
    "ui_session_storages"
)
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


def session_key(keys: Keys) -> bytes:
    """The 32-byte Fernet key of UI sessions, derived from the server secret."""
    return hmac.new(keys.signing_key, b"cargohold ui session", hashlib.sha256).digest()


def make_storages(keys: Keys) -> tuple[EncryptedCookieStorage, EncryptedCookieStorage]:
    """(plain, secure) cookie storages with one key; ``ui_middleware`` picks one per request."""
    key = session_key(keys)
    common: dict[str, Any] = {
        "cookie_name": COOKIE,
        "max_age": SESSION_MAX_AGE,
        "httponly": True,
        "samesite": "Lax",
    }
    return (
        EncryptedCookieStorage(key, secure=False, **common),
        EncryptedCookieStorage(key, secure=True, **common),
    )


def _is_ui(request: web.Request) -> bool:
    name = request.match_info.route.name
    return name is not None and name.startswith("ui.")


@web.middleware
async def ui_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not _is_ui(request):
        return await handler(request)
    services = request.app[SERVICES]
    settings = services.settings
    secure = request.secure or settings.cookie_secure or settings.external_url.startswith("https:")
    request[STORAGE] = request.app[STORAGES][1 if secure else 0]
    try:
        if request.method in UNSAFE:
            await _check_csrf(request)
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
    except CargoholdError as err:
        response = await error_page(request, err.status, err.message)
    if isinstance(response, web.Response | web.HTTPException):
        session = request.get(SESSION)
        if session is not None and session._changed:
            await request[STORAGE].save_session(request, response, session)
    response.headers.update(HEADERS)
    if request.match_info.route.name != "ui.static":
        response.headers["Cache-Control"] = "no-store"
    if isinstance(response, web.HTTPException):
        raise response
    return response


async def get_session(request: web.Request) -> Session:
    """The request's session (loaded from its cookie once; a new empty one without)."""
    session = request.get(SESSION)
    if session is None:
        session = await request[STORAGE].load_session(request)
        request[SESSION] = session
    return session


async def new_session(request: web.Request) -> Session:
    """Replace the request's session with a fresh one (saved with the response)."""
    session = await request[STORAGE].new_session()
    request[SESSION] = session
    return session


async def _check_csrf(request: web.Request) -> None:
    session = await get_session(request)
    expected = session.get("csrf")
    form = await request.post()
    given = form.get(CSRF_FIELD)
    if (
        not isinstance(expected, str)
        or not isinstance(given, str)
        or not hmac.compare_digest(given.encode(), expected.encode())
    ):
        raise CargoholdError(
            "This form has expired or did not come from this site (CSRF token missing or"
            " wrong). Go back, reload the page and try again.",
            status=403,
        )


async def csrf_token(request: web.Request) -> str:
    """The session's CSRF token, created with the session when it has none."""
    session = await get_session(request)
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


async def identity(request: web.Request) -> Identity:
    """Who the browser is signed in as, re-checked against the current state (anonymous when
    not signed in, or when the session's user, token or password changed since)."""
    known: Identity | None = request.get(IDENTITY)
    if known is not None:
        return known
    session = await get_session(request)
    found = ANONYMOUS_IDENTITY
    uid = session.get("uid")
    if isinstance(uid, int):
        signed = SignedIn(
            uid, str(session.get("login")), session.get("cred"), session.get("stamp", "")
        )
        checked = request.app[SERVICES].signin.identity(signed)
        if checked is None:
            session.invalidate()
        else:
            found = checked
    request[IDENTITY] = found
    return found


async def start_session(request: web.Request, signed: SignedIn) -> None:
    """A fresh session (new id, new CSRF token) for ``signed``: no fixation of an old one."""
    session: Session = await new_session(request)
    session["uid"] = signed.user_id
    session["login"] = signed.login
    session["cred"] = signed.credential_id
    session["stamp"] = signed.stamp
    session["csrf"] = secrets.token_urlsafe(32)


async def flash(request: web.Request, kind: str, message: str, section: str = "") -> None:
    """A message for the next page shown (after a redirect), inside ``section`` if the page
    has it (the redirect scrolls there), else at the top."""
    session = await get_session(request)
    session["flash"] = [kind, message[:2000], section]


async def take_flash(request: web.Request) -> tuple[str, str, str] | None:
    session = await get_session(request)
    found = session.pop("flash", None)
    if isinstance(found, list) and len(found) == 3:
        return str(found[0]), str(found[1]), str(found[2])
    return None


async def context(request: web.Request, **values: Any) -> dict[str, Any]:
    """What every template gets: the identity, the CSRF token, a flash message."""
    who = await identity(request)
    return {
        "me": who.principal.login,
        "signed_in_with_token": who.credential.kind.value == "pat",
        "csrf_token": await csrf_token(request),
        "flash": await take_flash(request),
        **values,
    }


async def render(
    request: web.Request, template: str, status: int = 200, **values: Any
) -> web.Response:
    return aiohttp_jinja2.render_template(
        template, request, await context(request, **values), status=status
    )


async def error_page(request: web.Request, status: int, message: str) -> web.Response:
    titles = {401: "Sign in needed", 403: "Not allowed", 404: "Not found", 429: "Slow down"}
    return await render(
        request, "error.html", status=status, title=titles.get(status, "Error"), message=message
    )
