"""Blob GET/HEAD (with Range) and DELETE.

GET sends a local file (filesystem store) with ``web.sendfile``, other stores' bytes through
aiohttp's writer; either way the database is released before the first byte: a slow reader
never holds a connection.
"""

from __future__ import annotations

from aiohttp import web

from cargohold.oci.digest import Digest
from cargohold.oci.ranges import parse_range
from cargohold.web.pipeline import API_VERSION, Ctx
from cargohold.web.sendfile import send_chunks, send_file


def _size(ctx: Ctx) -> tuple[str, int]:
    blob = ctx.services.blobs.stat(ctx.target, str(Digest.parse(ctx.route.reference or "")))
    return blob.digest, blob.size


async def get(request: web.Request, ctx: Ctx) -> web.StreamResponse:
    digest, size = _size(ctx)
    headers = {
        "Docker-Content-Digest": digest,
        "Content-Type": "application/octet-stream",
        "Accept-Ranges": "bytes",
        "ETag": f'"{digest}"',
        "Cache-Control": "max-age=31536000",
    }
    span = parse_range(request.headers.get("Range"), size)
    start, end = span if span is not None else (0, size - 1)
    length = end - start + 1 if size else 0
    status = 206 if span is not None else 200
    if span is not None:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    if request.method == "HEAD":
        headers["Content-Length"] = str(length)
        return web.Response(status=status, headers=headers)
    store = ctx.services.store
    redirect = store.redirect_url(digest)
    if redirect is not None:
        raise web.HTTPTemporaryRedirect(redirect)
    # Prepared here, so the headers app.registry adds afterwards would come too late.
    headers.update(API_VERSION)
    path = store.local_path(digest)
    if path is not None:
        return await send_file(request, path, status, headers, start, length)
    chunks = await ctx.services.run(lambda: store.open_read(digest, start, length))
    return await send_chunks(request, chunks, status, headers, length, ctx.services.run)


async def delete(request: web.Request, ctx: Ctx) -> web.StreamResponse:
    await ctx.services.blobs.delete(ctx.target, str(Digest.parse(ctx.route.reference or "")))
    return web.Response(status=202, headers={"Content-Length": "0"})
