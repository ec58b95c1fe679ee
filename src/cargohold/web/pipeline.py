"""The request pipeline in front of every OCI handler.

    request ─> match route (oci.routes, the one method+path -> action table)
            ─> 405 if the method is not allowed ─> NAME_INVALID if the name is bad
            ─> authenticate (Basic secret | Bearer JWT -> credential id -> current state)
            ─> bearer scope covers the action? else 401 insufficient_scope (client re-asks /token)
            ─> authorize (load state, pure decide, audit) ─> handler(request, Ctx)

Handlers receive a ``Ctx`` with the identity and the package state; they never authorize.
Errors are turned into OCI error bodies in one place (``error_middleware``).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from cargohold.accounts.authn import Presented, Refused, Wants
from cargohold.authz.model import ANONYMOUS_IDENTITY as ANONYMOUS
from cargohold.authz.model import Action, Identity, PackageState
from cargohold.authz.service import Authorized, authorize
from cargohold.db.raw import Reader
from cargohold.errors import BlobUnknownError, CargoholdError, DeniedError, UnauthorizedError
from cargohold.oci.routes import Route, RouteKind
from cargohold.registry.values import Actor, Target
from cargohold.services import Services

log = logging.getLogger("cargohold.web")

SERVICES: web.AppKey[Services] = web.AppKey("services", Services)
API_VERSION = {"Docker-Distribution-API-Version": "registry/2.0"}


@dataclass(frozen=True, slots=True)
class Ctx:
    services: Services
    route: Route
    identity: Identity
    authorized: Authorized | None  # None when auth is off

    @property
    def name(self) -> str:
        assert self.route.name is not None
        return self.route.name

    @property
    def package(self) -> PackageState | None:
        return None if self.authorized is None else self.authorized.package

    @property
    def target(self) -> Target:
        """The addressed package as the domain services take it."""
        return Target(self.name, self.package)

    @property
    def actor(self) -> Actor:
        principal = self.identity.principal
        return Actor(
            credential_id=self.identity.credential.id,
            user_id=principal.user_id,
            repo_id=principal.repo.id if principal.repo is not None else None,
        )


def error_response(err: CargoholdError, request: web.Request) -> web.Response:
    headers = {k: v for k, v in err.headers.items() if k.lower() != "content-length"}
    if err.status == 401 and "WWW-Authenticate" not in headers:
        services = request.app[SERVICES]
        headers["WWW-Authenticate"] = challenge(services, None)
    headers.update(API_VERSION)
    if request.method == "HEAD":
        return web.Response(status=err.status, headers=headers)
    return web.Response(
        status=err.status,
        body=json.dumps({"errors": [err.to_wire()]}).encode(),
        content_type="application/json",
        headers=headers,
    )


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except CargoholdError as err:
        return error_response(err, request)
    except web.HTTPException:
        raise
    except (ConnectionResetError, OSError) as exc:
        if isinstance(exc, ConnectionResetError) or request.transport is None:
            raise
        log.exception("internal error on %s %s", request.method, request.path)
        return _internal(request)
    except Exception:
        log.exception("internal error on %s %s", request.method, request.path)
        return _internal(request)


def _internal(request: web.Request) -> web.Response:
    body = {"errors": [{"code": "UNKNOWN", "message": "internal server error; see the server log"}]}
    return web.json_response(body, status=500)


def challenge(services: Services, scope: str | None, error: str | None = None) -> str:
    s = services.settings
    value = f'Bearer realm="{s.external_url}/token",service="{s.service_name}"'
    if scope:
        value += f',scope="{scope}"'
    if error:
        value += f',error="{error}"'
    return value


def scope_for(route: Route) -> str | None:
    if route.name is None or route.action is None:
        return None
    return Wants(route.name, Action(route.action)).scope


def presented(request: web.Request) -> Presented:
    """What the request presented in its Authorization header (nothing is verified here)."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return Presented(secret="")
        return Presented(secret=decoded.partition(":")[2])
    if scheme == "bearer" and value:
        return Presented(bearer=value)
    return Presented()


async def build_ctx(request: web.Request, route: Route) -> Ctx:
    """Authenticate (one domain call), then authorize the route's action, in one read
    transaction on the event loop."""
    services = request.app[SERVICES]
    if not services.settings.auth_enabled:
        return Ctx(services, route, ANONYMOUS, None)
    p = presented(request)
    wants = (
        Wants(route.name, Action(route.action))
        if route.name is not None and route.action is not None
        else None
    )
    base_url = services.settings.external_url

    def check(db: Reader) -> tuple[Identity, Authorized | None]:
        identity = services.authn.authenticate(db, p, wants)
        if wants is None:
            return identity, None
        granted = authorize(
            db,
            identity,
            wants.action,
            wants.name,
            base_url=base_url,
            audit=services.audit,
            memo=services.memo,
        )
        return identity, granted

    try:
        identity, authorized = services.read_on_loop(check)
    except Refused as err:
        scope = err.scope if err.error == "insufficient_scope" else None
        if err.error is None:
            scope = scope_for(route)
        err.headers.setdefault("WWW-Authenticate", challenge(services, scope, err.error))
        raise
    except UnauthorizedError as err:
        err.headers.setdefault("WWW-Authenticate", challenge(services, scope_for(route)))
        raise
    except DeniedError:
        # Clients probe for existing blobs with HEAD before uploading. A HEAD answer has no body
        # to explain a 403, and podman/skopeo stop at it; 404 lets them go on to the upload POST,
        # whose denial carries the explanation. It reveals nothing: a denied HEAD is always 404.
        if route.kind is RouteKind.BLOB and request.method == "HEAD":
            raise BlobUnknownError() from None
        raise
    return Ctx(services, route, identity, authorized)


def authorize_other(ctx: Ctx, name: str, action: Action) -> Authorized | None:
    """Authorize the same identity for a second package (cross-repository mount source).

    Returns None instead of raising when denied: a mount that may not read its source falls
    back to a normal upload session, revealing nothing.
    """
    services = ctx.services
    if not services.settings.auth_enabled:
        return None
    base_url = services.settings.external_url

    def check(db: Reader) -> Authorized:
        services.memo.sync(db)  # a new read transaction: the state may have moved on
        return authorize(
            db,
            ctx.identity,
            action,
            name,
            base_url=base_url,
            audit=services.audit,
            memo=services.memo,
        )

    try:
        return services.read_on_loop(check)
    except CargoholdError:
        return None


def json_body(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(data).encode(),
        content_type="application/json",
        headers=headers,
    )
