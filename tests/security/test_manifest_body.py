"""Finding 8: a large manifest that arrives in pieces is read to its end (up to the limit).

One ``content.read(limit + 1)`` returned only what had arrived so far, and a valid 600 KB
manifest got 400 ``not valid JSON``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from support.registry_app import Registry, digest_of, manifest_for, push_blob

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


async def _trickle(body: bytes, piece: int = 32 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(body), piece):
        yield body[start : start + piece]
        await asyncio.sleep(0.005)  # let the server read what has arrived so far


async def test_a_large_manifest_sent_in_pieces_is_stored_whole(registry: Registry) -> None:
    c = registry.client
    config, layer = b'{"architecture":"amd64","os":"linux"}', b"layer"
    await push_blob(c, "acme/app", config)
    await push_blob(c, "acme/app", layer)
    body = manifest_for(config, [layer], annotations={"pad": "p" * 614_000})
    assert len(body) > 614_000

    resp = await c.put(
        "/v2/acme/app/manifests/v1",
        data=_trickle(body),
        headers={"Content-Type": OCI_MANIFEST},
    )

    assert resp.status == 201, await resp.text()
    assert resp.headers["Docker-Content-Digest"] == digest_of(body)
    got = await c.get("/v2/acme/app/manifests/v1", headers={"Accept": OCI_MANIFEST})
    assert await got.read() == body


async def test_a_manifest_over_the_limit_sent_in_pieces_is_refused(make_registry: object) -> None:
    registry: Registry = await make_registry(auth_enabled=False, max_manifest_bytes=100_000)  # type: ignore[operator]
    body = b'{"schemaVersion":2,"pad":"' + b"p" * 200_000 + b'"}'

    resp = await registry.client.put(
        "/v2/acme/app/manifests/v1",
        data=_trickle(body),
        headers={"Content-Type": OCI_MANIFEST},
    )

    assert resp.status == 413
    assert (await resp.json())["errors"][0]["code"] == "MANIFEST_TOO_LARGE"
