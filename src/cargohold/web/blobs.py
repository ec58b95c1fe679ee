"""Blob GET/HEAD (with Range) and DELETE.

GET streams with the kernel's sendfile where the store has a local path (filesystem), and
releases the database before the first byte: a slow reader never holds a connection.
"""

from __future__ import annotations

from aiohttp import web

from cargohold.oci.digest import Digest
from cargohold.oci.ranges import parse_range
from cargohold.web.pipeline import Ctx


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
    path = store.local_path(digest)
    if path is not None:
        # aiohttp's FileResponse uses sendfile and serves the (already validated) Range itself.
        headers.pop("Content-Range", None)
        return web.FileResponse(path, headers=headers)
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = length
    await response.prepare(request)
    chunks = store.open_read(digest, start, length)
    while True:
        chunk = await ctx.services.run(lambda: next(chunks, b""))
        if not chunk:
            break
        await response.write(chunk)
    await response.write_eof()
    return response


async def delete(request: web.Request, ctx: Ctx) -> web.StreamResponse:
    await ctx.services.blobs.delete(ctx.target, str(Digest.parse(ctx.route.reference or "")))
    return web.Response(status=202, headers={"Content-Length": "0"})
