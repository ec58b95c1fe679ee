"""Blob uploads: POST (session, monolithic, mount), PATCH, PUT, GET status, DELETE.

See ``cargohold.registry.uploads`` for the session lifecycle. Bodies are streamed: the event loop
reads the socket while a worker thread hashes and writes the previous 4 MiB batch, so memory
stays flat whatever the blob size and hashing overlaps network reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib

from aiohttp import web
from sqlalchemy import Connection

from cargohold.authz.model import Action
from cargohold.errors import (
    CargoholdError,
    DigestInvalidError,
    NameInvalidError,
    RangeInvalidError,
    SizeInvalidError,
)
from cargohold.oci.digest import Digest
from cargohold.oci.names import validate_name
from cargohold.oci.ranges import parse_content_range
from cargohold.registry import blobs, packages, uploads
from cargohold.web.packages import existing_id, id_for_push
from cargohold.web.pipeline import Ctx, authorize_other

BATCH = 4 * 1024 * 1024


def _location(name: str, session: str) -> str:
    return f"/v2/{name}/blobs/uploads/{session}"


def _progress_headers(name: str, session: str, size: int) -> dict[str, str]:
    return {
        "Location": _location(name, session),
        "Range": f"0-{max(size - 1, 0)}",
        "Docker-Upload-UUID": session,
        "Content-Length": "0",
    }


def _declared_length(request: web.Request) -> int | None:
    raw = request.headers.get("Content-Length")
    if raw is None:
        return None
    if not raw.isdigit():
        raise SizeInvalidError(f"invalid Content-Length {raw!r}")
    return int(raw)


async def receive(ctx: Ctx, request: web.Request, upload: uploads.UploadRow) -> int:
    """Append the request body to the upload; returns the new size (not yet recorded in DB).

    On a client that goes away mid-body, the stored bytes are cut back to ``upload.size`` so
    the session stays exactly as the database says, and the error propagates.
    """
    services = ctx.services
    store = services.store
    hasher = services.hashes.take(upload.id, upload.size)
    if hasher is None and upload.size == 0:
        hasher = hashlib.sha256()
    loop = asyncio.get_running_loop()
    submitted = upload.size
    pending: asyncio.Future[int] | None = None

    def sink(batch: list[bytes], at: int) -> int:
        if hasher is not None:
            for piece in batch:
                hasher.update(piece)
        return store.write(upload.storage_id, at, batch)

    buf: list[bytes] = []
    buffered = 0
    try:
        async for chunk in request.content.iter_any():
            buf.append(chunk)
            buffered += len(chunk)
            if buffered >= BATCH:
                if pending is not None:
                    await pending
                pending = loop.run_in_executor(services.executor, sink, buf, submitted)
                submitted += buffered
                buf, buffered = [], 0
        if pending is not None:
            await pending
            pending = None
        if buf:
            await loop.run_in_executor(services.executor, sink, buf, submitted)
            submitted += buffered
    except BaseException:
        if pending is not None:
            with contextlib.suppress(BaseException):
                await pending
        await services.run(lambda: store.truncate(upload.storage_id, upload.size))
        raise
    if hasher is not None:
        services.hashes.put(upload.id, submitted, hasher)
    return submitted


async def _receive_declared(
    ctx: Ctx, request: web.Request, upload: uploads.UploadRow, declared: int | None
) -> int:
    """``receive``, then check the byte count against Content-Length (400 and cut back if not)."""
    size = await receive(ctx, request, upload)
    if declared is not None and size - upload.size != declared:
        store = ctx.services.store
        await ctx.services.run(lambda: store.truncate(upload.storage_id, upload.size))
        raise SizeInvalidError(
            f"received {size - upload.size} bytes, Content-Length said {declared}"
        )
    return size


async def _finish(
    ctx: Ctx, package_id: int, upload: uploads.UploadRow, size: int, expected: Digest
) -> web.Response:
    services = ctx.services
    hasher = services.hashes.take(upload.id, size)
    if hasher is not None and expected.algorithm == "sha256":
        computed = f"sha256:{hasher.hexdigest()}"
    else:
        computed = await services.run(
            lambda: services.store.digest_upload(upload.storage_id, expected.algorithm)
        )
    if computed != str(expected):
        await services.run(lambda: services.store.cancel(upload.storage_id))
        await services.write(lambda c: uploads.close(c, upload.id))
        raise DigestInvalidError(
            f"provided digest {expected} did not match uploaded content ({computed}); "
            "the upload was discarded",
            detail={"expected": str(expected), "computed": computed},
        )
    info = await services.run(
        lambda: services.store.commit(upload.storage_id, str(expected), hashed=computed, size=size)
    )

    def record(conn: Connection) -> None:
        blobs.link(conn, package_id, info.digest, info.size)
        uploads.close(conn, upload.id)

    await services.write(record)
    return web.Response(
        status=201,
        headers={
            "Location": f"/v2/{ctx.name}/blobs/{info.digest}",
            "Docker-Content-Digest": info.digest,
            "Content-Length": "0",
        },
    )


def _digest_param(request: web.Request) -> Digest | None:
    raw = request.query.get("digest")
    return None if raw is None else Digest.parse(raw)


async def _open(ctx: Ctx, package_id: int) -> uploads.UploadRow:
    services = ctx.services
    storage_id = await services.run(services.store.begin_upload)
    cred = ctx.identity.credential.id
    return await services.write(lambda c: uploads.open_session(c, package_id, storage_id, cred))


async def start(request: web.Request, ctx: Ctx) -> web.StreamResponse:
    """POST /v2/<name>/blobs/uploads/ : mount, monolithic, or open a session."""
    expected = _digest_param(request)
    package_id = await id_for_push(ctx)
    mount = request.query.get("mount")
    if mount is not None:
        mounted = await _try_mount(ctx, package_id, mount, request.query.get("from"))
        if mounted is not None:
            return mounted
    upload = await _open(ctx, package_id)
    if expected is not None:
        size = await receive(ctx, request, upload)
        return await _finish(ctx, package_id, upload, size, expected)
    return web.Response(status=202, headers=_progress_headers(ctx.name, upload.id, 0))


async def _try_mount(
    ctx: Ctx, package_id: int, raw_digest: str, source: str | None
) -> web.Response | None:
    """Cross-repository mount: a metadata operation, only from a source the caller may read."""
    try:
        digest = str(Digest.parse(raw_digest))
    except CargoholdError:
        return None
    if source is None:
        return None
    try:
        validate_name(source)
    except NameInvalidError:
        return None
    services = ctx.services
    if services.settings.auth_enabled:
        granted = await authorize_other(ctx, source, Action.PULL)
        if granted is None or not granted.package.exists or granted.package.id is None:
            return None
        source_id: int | None = granted.package.id
    else:
        row = services.fast(lambda r: packages.find(r, source))
        source_id = row.id if row else None
    if source_id is None:
        return None
    sid = source_id
    size = await services.write(lambda c: blobs.mount(c, package_id, sid, digest))
    if size is None:
        return None
    return web.Response(
        status=201,
        headers={
            "Location": f"/v2/{ctx.name}/blobs/{digest}",
            "Docker-Content-Digest": digest,
            "Content-Length": "0",
        },
    )


async def _session(ctx: Ctx) -> tuple[int, uploads.UploadRow]:
    package_id = await existing_id(ctx)
    session = ctx.route.session or ""
    upload = ctx.services.fast(lambda r: uploads.get(r, package_id, session))
    return package_id, upload


async def patch(request: web.Request, ctx: Ctx) -> web.StreamResponse:
    """PATCH a chunk: it must start where the session ends (else 416, nothing changes)."""
    _, upload = await _session(ctx)
    declared = _declared_length(request)
    header = request.headers.get("Content-Range")
    if header is not None:
        first, last = parse_content_range(header)
        if first != upload.size:
            raise RangeInvalidError(
                f"chunk starts at {first} but the upload has {upload.size} bytes",
                headers=_progress_headers(ctx.name, upload.id, upload.size),
            )
        if declared is not None and declared != last - first + 1:
            raise RangeInvalidError(
                f"Content-Range {header} does not match Content-Length {declared}",
                headers=_progress_headers(ctx.name, upload.id, upload.size),
            )
    size = await _receive_declared(ctx, request, upload, declared)
    await ctx.services.write(lambda c: uploads.advance(c, upload, size))
    return web.Response(status=202, headers=_progress_headers(ctx.name, upload.id, size))


async def finish(request: web.Request, ctx: Ctx) -> web.StreamResponse:
    """PUT ?digest= closes the session, with or without a final chunk."""
    raw = request.query.get("digest")
    if raw is None:
        raise DigestInvalidError("the digest query parameter is required to complete an upload")
    expected = Digest.parse(raw)
    package_id, upload = await _session(ctx)
    size = upload.size
    if request.body_exists:
        size = await _receive_declared(ctx, request, upload, _declared_length(request))
        if size != upload.size:
            await ctx.services.write(lambda c: uploads.advance(c, upload, size))
    return await _finish(ctx, package_id, upload, size, expected)


async def status(request: web.Request, ctx: Ctx) -> web.StreamResponse:
    _, upload = await _session(ctx)
    headers = _progress_headers(ctx.name, upload.id, upload.size)
    return web.Response(status=204, headers=headers)


async def cancel(request: web.Request, ctx: Ctx) -> web.StreamResponse:
    _, upload = await _session(ctx)
    services = ctx.services
    await services.write(lambda c: uploads.close(c, upload.id))
    await services.run(lambda: services.store.cancel(upload.storage_id))
    services.hashes.drop(upload.id)
    return web.Response(status=204)
