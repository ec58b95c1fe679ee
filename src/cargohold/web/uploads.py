"""Blob uploads: POST (session, monolithic, mount), PATCH, PUT, GET status, DELETE.

Each handler parses the request, makes one call to ``UploadService`` and turns the result into
the response; the session lifecycle is in ``cargohold.registry.uploads``.
"""

from __future__ import annotations

from aiohttp import web

from cargohold.authz.model import Action
from cargohold.errors import CargoholdError, DigestInvalidError, SizeInvalidError
from cargohold.oci.digest import Digest
from cargohold.oci.names import validate_name
from cargohold.oci.ranges import parse_content_range
from cargohold.registry import packages
from cargohold.registry.values import BlobRef, Mount
from cargohold.web.pipeline import Ctx, authorize_other


def _location(name: str, session: str) -> str:
    return f"/v2/{name}/blobs/uploads/{session}"


def _progress_headers(name: str, session: str, size: int) -> dict[str, str]:
    return {
        "Location": _location(name, session),
        "Range": f"0-{max(size - 1, 0)}",
        "Docker-Upload-UUID": session,
        "Content-Length": "0",
    }


def _created(ctx: Ctx, blob: BlobRef) -> web.Response:
    return web.Response(
        status=201,
        headers={
            "Location": f"/v2/{ctx.name}/blobs/{blob.digest}",
            "Docker-Content-Digest": blob.digest,
            "Content-Length": "0",
        },
    )


def _declared_length(request: web.Request) -> int | None:
    raw = request.headers.get("Content-Length")
    if raw is None:
        return None
    if not raw.isdigit():
        raise SizeInvalidError(f"invalid Content-Length {raw!r}")
    return int(raw)


def _digest_param(request: web.Request) -> Digest | None:
    raw = request.query.get("digest")
    return None if raw is None else Digest.parse(raw)


async def start(request: web.Request, ctx: Ctx) -> web.StreamResponse:
    """POST /v2/<name>/blobs/uploads/ : mount, monolithic, or open a session."""
    expected = _digest_param(request)
    result = await ctx.services.uploads.start(
        ctx.target,
        ctx.actor,
        mount=_mount(ctx, request.query.get("mount"), request.query.get("from")),
        digest=expected,
        body=request.content.iter_any() if expected is not None else None,
        length=_declared_length(request) if expected is not None else None,
    )
    if isinstance(result, BlobRef):
        return _created(ctx, result)
    return web.Response(status=202, headers=_progress_headers(ctx.name, result.session, 0))


def _mount(ctx: Ctx, raw_digest: str | None, source: str | None) -> Mount | None:
    """A mount request whose source the caller may read, else None (a normal upload follows)."""
    if raw_digest is None or source is None:
        return None
    try:
        digest = str(Digest.parse(raw_digest))
        validate_name(source)
    except CargoholdError:
        return None
    services = ctx.services
    if services.settings.auth_enabled:
        granted = authorize_other(ctx, source, Action.PULL)
        if granted is None or not granted.package.exists or granted.package.id is None:
            return None
        return Mount(digest, granted.package.id)
    row = services.read_on_loop(lambda r: packages.find(r, source))
    return None if row is None else Mount(digest, row.id)


async def patch(request: web.Request, ctx: Ctx) -> web.StreamResponse:
    """PATCH a chunk: it must start where the session ends (else 416, nothing changes)."""
    header = request.headers.get("Content-Range")
    session = ctx.route.session or ""
    try:
        status = await ctx.services.uploads.append(
            ctx.target,
            ctx.actor,
            session,
            request.content.iter_any(),
            span=parse_content_range(header) if header is not None else None,
            length=_declared_length(request),
        )
    except CargoholdError as err:
        if err.status == 416 and isinstance(err.detail, dict) and "size" in err.detail:
            err.headers.update(_progress_headers(ctx.name, session, int(err.detail["size"])))
        raise
    return web.Response(status=202, headers=_progress_headers(ctx.name, session, status.size))


async def finish(request: web.Request, ctx: Ctx) -> web.StreamResponse:
    """PUT ?digest= closes the session, with or without a final chunk."""
    expected = _digest_param(request)
    if expected is None:
        raise DigestInvalidError("the digest query parameter is required to complete an upload")
    blob = await ctx.services.uploads.commit(
        ctx.target,
        ctx.actor,
        ctx.route.session or "",
        expected,
        request.content.iter_any() if request.body_exists else None,
        length=_declared_length(request) if request.body_exists else None,
    )
    return _created(ctx, blob)


async def status(request: web.Request, ctx: Ctx) -> web.StreamResponse:
    upload = await ctx.services.uploads.status(ctx.target, ctx.actor, ctx.route.session or "")
    return web.Response(
        status=204, headers=_progress_headers(ctx.name, upload.session, upload.size)
    )


async def cancel(request: web.Request, ctx: Ctx) -> web.StreamResponse:
    await ctx.services.uploads.cancel(ctx.target, ctx.actor, ctx.route.session or "")
    return web.Response(status=204)
