"""Blob GET/HEAD (with Range) and DELETE.

GET sends a local file (filesystem store) with ``web.sendfile``, other stores' bytes through
aiohttp's writer; either way the database is released before the first byte: a slow reader
never holds a connection.
"""

from __future__ import annotations

from aiohttp import web

from cargohold.errors import BlobUnknownError
from cargohold.oci.digest import Digest
from cargohold.oci.ranges import parse_range
from cargohold.registry import blobs
from cargohold.web.packages import existing_id
from cargohold.web.pipeline import API_VERSION, Ctx
from cargohold.web.sendfile import send_file


async def _size(ctx: Ctx) -> tuple[int, str, int]:
    digest = str(Digest.parse(ctx.route.reference or ""))
    package_id = await existing_id(ctx)
    size = ctx.services.fast(lambda r: blobs.size_in(r, package_id, digest))
    if size is None:
        raise BlobUnknownError(detail={"digest": digest})
    return package_id, digest, size


async def get(request: web.Request, ctx: Ctx) -> web.StreamResponse:
    _, digest, size = await _size(ctx)
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
    package_id, digest, _ = await _size(ctx)
    await ctx.services.write(lambda c: blobs.unlink(c, package_id, digest))
    return web.Response(status=202, headers={"Content-Length": "0"})
