"""Manifest GET/HEAD/PUT/DELETE by tag or digest."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import Connection

from cargohold.db.raw import Reader
from cargohold.errors import (
    DigestInvalidError,
    ManifestTooLargeError,
    ManifestUnknownError,
    TagInvalidError,
)
from cargohold.oci import mediatypes
from cargohold.oci.digest import Digest
from cargohold.oci.manifest import ParsedManifest, parse_manifest
from cargohold.oci.names import parse_reference
from cargohold.registry import manifests, packages
from cargohold.web.packages import existing_id, id_for_push
from cargohold.web.pipeline import Ctx

CONFIG_LABEL_LIMIT = 1024 * 1024


def _reference(ctx: Ctx) -> Digest | str:
    try:
        return parse_reference(ctx.route.reference or "")
    except TagInvalidError as exc:
        raise ManifestUnknownError(f"invalid tag {ctx.route.reference!r}") from exc


async def get(request: web.Request, ctx: Ctx) -> web.StreamResponse:
    ref = _reference(ctx)
    package_id = await existing_id(ctx)
    is_digest = isinstance(ref, Digest)
    key = str(ref)
    found = ctx.services.fast(lambda r: manifests.get(r, package_id, key, is_digest))
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


async def _read_body(request: web.Request, limit: int) -> bytes:
    declared = request.content_length
    if declared is not None and declared > limit:
        raise ManifestTooLargeError(f"manifest of {declared} bytes exceeds the limit of {limit}")
    body = await request.content.read(limit + 1)
    if len(body) > limit:
        raise ManifestTooLargeError(f"manifest exceeds the limit of {limit} bytes")
    return body


async def put(request: web.Request, ctx: Ctx) -> web.StreamResponse:
    ref = _reference(ctx)
    body = await _read_body(request, ctx.services.settings.max_manifest_bytes)
    parsed = parse_manifest(body, request.headers.get("Content-Type"))
    if isinstance(ref, Digest):
        digest = Digest.of(body, ref.algorithm)
        if digest != ref:
            raise DigestInvalidError(
                f"manifest digest is {digest}, not {ref}",
                detail={"expected": str(ref), "computed": str(digest)},
            )
        tag = None
    else:
        digest, tag = Digest.of(body), ref
    package_id = await id_for_push(ctx)
    key = str(digest)
    first = await ctx.services.write(lambda c: _store(c, package_id, key, body, parsed, tag))
    if first and parsed.config is not None and parsed.config.size <= CONFIG_LABEL_LIMIT:
        await _link_by_label(ctx, package_id, str(parsed.config.digest))
    headers = {
        "Location": f"/v2/{ctx.name}/manifests/{key}",
        "Docker-Content-Digest": key,
        "Content-Length": "0",
    }
    if parsed.subject is not None:
        headers["OCI-Subject"] = str(parsed.subject.digest)
    return web.Response(status=201, headers=headers)


def _store(
    conn: Connection,
    package_id: int,
    digest: str,
    body: bytes,
    parsed: ParsedManifest,
    tag: str | None,
) -> bool:
    """Store the manifest; True when it is the package's first version."""
    first = not packages.has_versions(conn, package_id)
    manifests.put(conn, package_id, digest, body, parsed, tag)
    return first


async def _link_by_label(ctx: Ctx, package_id: int, config_digest: str) -> None:
    """First version of a new package: link it by its org.opencontainers.image.source label."""
    store = ctx.services.store
    config = await ctx.services.run(lambda: b"".join(store.open_read(config_digest)))
    name = ctx.name

    def link(conn: Connection) -> None:
        row = packages.find(Reader.over(conn), name)
        if row is not None:
            packages.link_by_source_label(conn, row, config)

    await ctx.services.write(link)


async def delete(request: web.Request, ctx: Ctx) -> web.StreamResponse:
    ref = _reference(ctx)
    package_id = await existing_id(ctx)
    if isinstance(ref, Digest):
        key = str(ref)
        await ctx.services.write(lambda c: manifests.delete_manifest(c, package_id, key))
    else:
        tag = ref
        await ctx.services.write(lambda c: manifests.delete_tag(c, package_id, tag))
    return web.Response(status=202, headers={"Content-Length": "0"})
