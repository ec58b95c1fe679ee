"""Tags list, catalog and referrers: served from the database with ``Link`` pagination."""

from __future__ import annotations

from aiohttp import web

from cargohold.errors import UnauthorizedError
from cargohold.oci import mediatypes
from cargohold.oci.digest import Digest
from cargohold.oci.pagination import next_link, parse_n
from cargohold.web.pipeline import Ctx, json_body

DEFAULT_PAGE = 1000


async def tags(request: web.Request, ctx: Ctx) -> web.StreamResponse:
    n = parse_n(request.query.get("n"))
    names = ctx.services.manifests.tags(ctx.target, n, request.query.get("last"))
    headers = {}
    if n and len(names) == n:
        headers["Link"] = next_link(request.path, n, names[-1])
    return json_body({"name": ctx.name, "tags": names}, headers=headers)


async def catalog(request: web.Request, ctx: Ctx) -> web.StreamResponse:
    """Names the caller may pull, in order. Anonymous callers see public packages only."""
    n = parse_n(request.query.get("n"))
    last = request.query.get("last")
    if n == 0:
        return json_body({"repositories": []})
    page = n if n is not None else DEFAULT_PAGE
    services = ctx.services
    identity = ctx.identity if services.settings.auth_enabled else None
    names = services.catalog.page(identity, page, last)
    headers = {}
    if len(names) == page:
        headers["Link"] = next_link(request.path, page, names[-1])
    return json_body({"repositories": names}, headers=headers)


async def referrers(request: web.Request, ctx: Ctx) -> web.StreamResponse:
    subject = str(Digest.parse(ctx.route.reference or ""))
    artifact_type = request.query.get("artifactType")
    found = ctx.services.manifests.referrers(ctx.target, subject, artifact_type)
    headers: dict[str, str] = {}  # Content-Type: set below (aiohttp refuses both)
    if artifact_type is not None:
        headers["OCI-Filters-Applied"] = "artifactType"
    body = {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": found}
    response = json_body(body, headers=headers)
    response.content_type = mediatypes.OCI_INDEX
    return response


async def base(request: web.Request, ctx: Ctx) -> web.StreamResponse:
    """GET /v2/ : 200 for a valid credential (or auth off), else 401 with the challenge."""
    if ctx.services.settings.auth_enabled and ctx.identity.credential.id is None:
        raise UnauthorizedError("authentication required: log in with a token")
    return json_body({})
