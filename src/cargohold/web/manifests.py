"""Manifest GET/HEAD/PUT/DELETE by tag or digest: one ``ManifestService`` call each."""

from __future__ import annotations

from aiohttp import web

from cargohold.errors import ManifestTooLargeError, ManifestUnknownError, TagInvalidError
from cargohold.oci import mediatypes
from cargohold.oci.digest import Digest
from cargohold.oci.names import parse_reference
from cargohold.web.pipeline import Ctx


def _reference(ctx: Ctx) -> Digest | str:
    try:
        return parse_reference(ctx.route.reference or "")
    except TagInvalidError as exc:
        raise ManifestUnknownError(f"invalid tag {ctx.route.reference!r}") from exc


async def get(request: web.Request, ctx: Ctx) -> web.StreamResponse:
    found = ctx.services.manifests.get(ctx.target, _reference(ctx))
    if not mediatypes.acceptable(request.headers.getall("Accept", []), found.media_type):
        raise ManifestUnknownError(
            f"manifest found, but its media type {found.media_type} is not in the Accept header",
            detail={"mediaType": found.media_type},
        )
    headers = {
        "Docker-Content-Digest": found.digest,
        "ETag": f'"{found.digest}"',
        "Content-Type": found.media_type,
    }
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(found.content))
        return web.Response(status=200, headers=headers)
    return web.Response(status=200, body=found.content, headers=headers)


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole request body, up to ``limit`` bytes (MANIFEST_TOO_LARGE beyond).

    Reads until the end of the body: one ``read(n)`` returns only what has arrived so far.
    """
    declared = request.content_length
    if declared is not None and declared > limit:
        raise ManifestTooLargeError(f"manifest of {declared} bytes exceeds the limit of {limit}")
    parts: list[bytes] = []
    received = 0
    async for chunk in request.content.iter_any():
        received += len(chunk)
        if received > limit:
            raise ManifestTooLargeError(f"manifest exceeds the limit of {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


async def put(request: web.Request, ctx: Ctx) -> web.StreamResponse:
    body = await read_body(request, ctx.services.settings.max_manifest_bytes)
    pushed = await ctx.services.manifests.put(
        ctx.target, ctx.actor, _reference(ctx), body, request.headers.get("Content-Type")
    )
    headers = {
        "Location": f"/v2/{ctx.name}/manifests/{pushed.digest}",
        "Docker-Content-Digest": pushed.digest,
        "Content-Length": "0",
    }
    if pushed.subject is not None:
        headers["OCI-Subject"] = pushed.subject
    return web.Response(status=201, headers=headers)


async def delete(request: web.Request, ctx: Ctx) -> web.StreamResponse:
    await ctx.services.manifests.delete(ctx.target, _reference(ctx), ctx.identity.actor)
    return web.Response(status=202, headers={"Content-Length": "0"})
