"""THE route table of the REST API: the server registers it and OpenAPI describes it."""

from __future__ import annotations

from aiohttp import web

from cargohold.web.api import admin, package_settings, packages
from cargohold.web.api.framework import PREFIX, ApiRoute, aiohttp_handler, api_middleware
from cargohold.web.api.openapi import document
from cargohold.web.pipeline import SERVICES

ROUTES: tuple[ApiRoute, ...] = (
    *packages.routes(),
    *package_settings.routes(),
    *admin.routes(),
)


async def openapi(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    return web.json_response(document(ROUTES, services.settings.external_url))


def setup(app: web.Application) -> None:
    """Register every route of ``ROUTES`` (and the document) under ``/api/v3``; add the
    middleware that answers errors under ``/api/v3`` GitHub's way."""
    app.middlewares.append(api_middleware)
    app.router.add_route("GET", f"{PREFIX}/openapi.json", openapi)
    for route in ROUTES:
        app.router.add_route(route.method, PREFIX + route.path, aiohttp_handler(route))
