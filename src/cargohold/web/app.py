"""The aiohttp application: OCI API under ``/v2/``, the token endpoint, the runner API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from cargohold.errors import NameInvalidError, NotFoundError, UnsupportedError
from cargohold.oci.names import validate_name
from cargohold.oci.routes import Route, RouteKind, match_route
from cargohold.services import Services
from cargohold.web import (
    api_access,
    blobs,
    health,
    listing,
    loghygiene,
    manifests,
    runner_api,
    token,
    ui,
    uploads,
)
from cargohold.web.api import routes as api_routes
from cargohold.web.pipeline import API_VERSION, SERVICES, Ctx, build_ctx, error_middleware
from cargohold.web.probes import unavailable_middleware
from cargohold.web.sendfile import SENDERS, Senders

Handler = Callable[[web.Request, Ctx], Awaitable[web.StreamResponse]]

# (route kind, method) -> handler. The method+path -> action mapping itself is oci.routes.
HANDLERS: dict[tuple[RouteKind, str], Handler] = {
    (RouteKind.BASE, "GET"): listing.base,
    (RouteKind.BASE, "HEAD"): listing.base,
    (RouteKind.CATALOG, "GET"): listing.catalog,
    (RouteKind.TAGS_LIST, "GET"): listing.tags,
    (RouteKind.MANIFEST, "GET"): manifests.get,
    (RouteKind.MANIFEST, "HEAD"): manifests.get,
    (RouteKind.MANIFEST, "PUT"): manifests.put,
    (RouteKind.MANIFEST, "DELETE"): manifests.delete,
    (RouteKind.BLOB, "GET"): blobs.get,
    (RouteKind.BLOB, "HEAD"): blobs.get,
    (RouteKind.BLOB, "DELETE"): blobs.delete,
    (RouteKind.UPLOAD_START, "POST"): uploads.start,
    (RouteKind.UPLOAD, "PATCH"): uploads.patch,
    (RouteKind.UPLOAD, "PUT"): uploads.finish,
    (RouteKind.UPLOAD, "GET"): uploads.status,
    (RouteKind.UPLOAD, "DELETE"): uploads.cancel,
    (RouteKind.REFERRERS, "GET"): listing.referrers,
}


async def registry(request: web.Request) -> web.StreamResponse:
    route: Route | None = match_route(request.method, request.path)
    if route is None:
        raise NotFoundError(f"no registry endpoint {request.path}")
    handler = HANDLERS.get((route.kind, request.method))
    if handler is None or not route.method_allowed:
        raise UnsupportedError(f"{request.method} is not supported on {route.kind.value}")
    if route.name is not None:
        try:
            validate_name(route.name)
        except NameInvalidError as exc:
            exc.detail = {"name": route.name}
            raise
    ctx = await build_ctx(request, route)
    response = await handler(request, ctx)
    response.headers.update(API_VERSION)
    return response


def create_app(services: Services) -> web.Application:
    loghygiene.install()
    app = web.Application(
        middlewares=[error_middleware, unavailable_middleware], client_max_size=8 * 1024 * 1024
    )
    app[SERVICES] = services
    app[SENDERS] = senders = Senders()

    async def stop_senders(_: web.Application) -> None:
        senders.close()

    app.on_cleanup.append(stop_senders)
    app.router.add_route("GET", "/token", token.token)
    app.router.add_route("POST", "/token", token.token)
    runner_api.add_routes(app)
    api_access.add_routes(app)
    health.add_routes(app)
    api_routes.setup(app)
    app.router.add_route("*", "/v2", registry)
    app.router.add_route("*", "/v2/{tail:.*}", registry)
    ui.setup(app)
    return app
