"""The REST API's one route table entry type, request parsing, authentication and errors.

Every route is an ``ApiRoute`` (method, path, handler, parameters, request and response
schemas); ``routes.ROUTES`` is the one table that both registers the aiohttp routes and
generates the OpenAPI document. A handler gets a ``Call`` (identity, path and query parameters,
JSON body) and returns a ``Reply``; errors are ``CargoholdError``s that ``api_middleware``
renders GitHub's way: ``{"message", "documentation_url", "status"}`` plus the registry's
explanation (``code``, ``detail``: who, held, needed, fix).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from cargohold.accounts.credentials import authenticate_secret
from cargohold.authz.model import ANONYMOUS_IDENTITY, Identity
from cargohold.errors import CargoholdError, InvalidRequestError, UnauthorizedError
from cargohold.services import Services
from cargohold.web.pipeline import SERVICES

log = logging.getLogger("cargohold.web.api")

PREFIX = "/api/v3"
DOCS = "https://docs.github.com/rest/packages/packages"
JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    where: str  # "path" | "query"
    schema: JSON
    required: bool = False
    description: str = ""


@dataclass(frozen=True, slots=True)
class Reply:
    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Call:
    """One API request as a handler sees it."""

    services: Services
    request: web.Request
    identity: Identity | None  # None when authentication is off: the trusted operator
    path: Mapping[str, str]
    query: Mapping[str, str]
    body: Any

    @property
    def by(self) -> Identity | None:
        return self.identity

    def signed_in(self) -> Identity:
        """The caller's identity; 401 for anonymous callers (auth off: a site admin view)."""
        if self.identity is None:
            raise InvalidRequestError("this endpoint needs authentication to be enabled")
        if self.identity.credential.id is None:
            raise UnauthorizedError("Requires authentication")
        return self.identity

    def field(self, name: str, kind: type, *, required: bool = True) -> Any:
        """A field of the JSON object body, type-checked (bool is not an int)."""
        if not isinstance(self.body, dict):
            raise InvalidRequestError("the body must be a JSON object")
        if name not in self.body or self.body[name] is None:
            if required:
                raise InvalidRequestError(f'the body needs "{name}"')
            return None
        value = self.body[name]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise InvalidRequestError(f'"{name}" must be a {kind.__name__}')
        return value


Handler = Callable[[Call], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class ApiRoute:
    method: str
    path: str  # under PREFIX, with {name} parameters
    handler: Handler
    summary: str
    tag: str
    params: tuple[Param, ...] = ()
    body: JSON | None = None  # request JSON schema
    responses: Mapping[int, JSON | None] = field(default_factory=dict)  # status -> schema
    paginated: bool = False
    # Authenticated by a runner credential (the handler checks it), not as a person.
    runner: bool = False


# -- authentication ---------------------------------------------------------------------------


def presented_secret(request: web.Request) -> str | None:
    """The secret of ``Authorization: token X`` / ``Bearer X`` / Basic (GitHub accepts all)."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme in ("token", "bearer") and value:
        return value
    if scheme == "basic" and value:
        try:
            return base64.b64decode(value, validate=True).decode().partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return ""
    if header:
        return ""
    return None


def authenticate(request: web.Request, services: Services) -> Identity | None:
    if not services.settings.auth_enabled:
        return None
    secret = presented_secret(request)
    if secret is None:
        return ANONYMOUS_IDENTITY
    if not secret:
        raise UnauthorizedError("Bad credentials")
    host = services.settings.service_name
    memo = services.memo

    def run(db: Any) -> Identity:
        memo.sync(db)
        return authenticate_secret(db, services.keys, secret, host, memo)

    try:
        return services.read_on_loop(run)
    except UnauthorizedError as err:
        raise UnauthorizedError("Bad credentials", detail=err.detail) from None


# -- pagination -------------------------------------------------------------------------------

PAGE_PARAMS = (
    Param("per_page", "query", {"type": "integer", "minimum": 1, "maximum": 100, "default": 30}),
    Param("page", "query", {"type": "integer", "minimum": 1, "default": 1}),
)


def _int(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequestError(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise InvalidRequestError(f"{name} must be between {low} and {high}")
    return value


def paginate(call: Call, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
    """GitHub's ``page``/``per_page`` slice of ``items`` and its ``Link`` header."""
    per_page = _int(call.query, "per_page", 30, 1, 100)
    page = _int(call.query, "page", 1, 1, 1_000_000)
    last = max(1, -(-len(items) // per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    base = call.services.settings.external_url + call.request.path

    def url(n: int) -> str:
        query = {k: v for k, v in call.query.items() if k not in ("page", "per_page")}
        query.update(per_page=str(per_page), page=str(n))
        return f"<{base}?{urlencode(query)}>"

    links = []
    if page < last:
        links += [f'{url(page + 1)}; rel="next"', f'{url(last)}; rel="last"']
    if page > 1:
        links += [f'{url(1)}; rel="first"', f'{url(min(page - 1, last))}; rel="prev"']
    return chunk, ({"Link": ", ".join(links)} if links else {})


# -- the wire ---------------------------------------------------------------------------------


def error_body(err: CargoholdError) -> JSON:
    body: JSON = {
        "message": err.message,
        "documentation_url": DOCS,
        "status": str(err.status),
        "code": err.code,
    }
    if err.detail is not None:
        body["detail"] = err.detail
    return body


def api_error(err: CargoholdError) -> web.Response:
    headers = {k: v for k, v in err.headers.items() if k.lower() not in ("content-length",)}
    headers.pop("WWW-Authenticate", None)
    return web.json_response(error_body(err), status=err.status, headers=headers)


@web.middleware
async def api_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Under ``/api/v3``: GitHub-shaped errors for ours, for unknown paths and methods, and a
    generic 500 (logged) for anything unexpected; other paths pass through untouched."""
    if not request.path.startswith(PREFIX + "/") and request.path != PREFIX:
        return await handler(request)
    try:
        return await handler(request)
    except CargoholdError as err:
        return api_error(err)
    except web.HTTPMethodNotAllowed:
        return web.json_response(
            {"message": "Method Not Allowed", "documentation_url": DOCS, "status": "405"},
            status=405,
        )
    except web.HTTPNotFound:
        return web.json_response(
            {"message": "Not Found", "documentation_url": DOCS, "status": "404"}, status=404
        )
    except web.HTTPException:
        raise
    except Exception:
        log.exception("internal error on %s %s", request.method, request.path)
        return web.json_response(
            {"message": "internal server error; see the server log", "status": "500"}, status=500
        )


async def _body(request: web.Request, expects: bool) -> Any:
    if not expects:
        return None
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequestError("Problems parsing JSON") from None


def aiohttp_handler(route: ApiRoute) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        services = request.app[SERVICES]
        identity = None if route.runner else authenticate(request, services)
        for param in route.params:
            if param.where == "query" and param.required and not request.query.get(param.name):
                raise InvalidRequestError(f"the query parameter {param.name} is required")
        call = Call(
            services=services,
            request=request,
            identity=identity,
            path=dict(request.match_info),
            query=dict(request.query),
            body=await _body(request, route.body is not None),
        )
        reply = await route.handler(call)
        if reply.body is None:
            return web.Response(status=reply.status, headers=dict(reply.headers))
        return web.json_response(reply.body, status=reply.status, headers=dict(reply.headers))

    return handle
