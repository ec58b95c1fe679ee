"""Finding 2: a descriptor's size must equal the stored content's size.

A config descriptor naming a large blob with ``"size": 2`` was accepted, and the label reader
then read the whole blob into memory. Now the manifest is refused (MANIFEST_INVALID) and
nothing is stored.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from support.registry_app import Registry, digest_of, manifest_for, push_blob

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
BIG_CONFIG = b'{"architecture":"amd64","os":"linux","pad":"' + b"x" * 200_000 + b'"}'
LAYER = b"layer bytes"


def _resize(body: bytes, where: str, size: int) -> bytes:
    doc: dict[str, Any] = json.loads(body)
    if where == "config":
        doc["config"]["size"] = size
    else:
        doc["layers"][0]["size"] = size
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("where", "size"),
    [("config", 2), ("config", len(BIG_CONFIG) + 1), ("layer", 1), ("layer", len(LAYER) + 7)],
)
async def test_a_descriptor_size_that_differs_from_the_stored_blob_is_refused(
    registry: Registry, where: str, size: int
) -> None:
    c = registry.client
    await push_blob(c, "acme/app", BIG_CONFIG)
    await push_blob(c, "acme/app", LAYER)
    body = _resize(manifest_for(BIG_CONFIG, [LAYER]), where, size)

    resp = await c.put(
        "/v2/acme/app/manifests/v1", data=body, headers={"Content-Type": OCI_MANIFEST}
    )

    assert resp.status == 400, await resp.text()
    error = (await resp.json())["errors"][0]
    assert error["code"] == "MANIFEST_INVALID"
    assert error["detail"]["size"] == size
    assert registry.count("manifests") == 0


async def test_an_index_entry_size_that_differs_from_the_stored_manifest_is_refused(
    registry: Registry,
) -> None:
    c = registry.client
    await push_blob(c, "acme/app", BIG_CONFIG)
    await push_blob(c, "acme/app", LAYER)
    child = manifest_for(BIG_CONFIG, [LAYER])
    put = await c.put(
        "/v2/acme/app/manifests/v1", data=child, headers={"Content-Type": OCI_MANIFEST}
    )
    assert put.status == 201
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": digest_of(child), "size": 3}],
    }

    resp = await c.put(
        "/v2/acme/app/manifests/multi",
        data=json.dumps(index).encode(),
        headers={"Content-Type": OCI_INDEX},
    )

    assert resp.status == 400
    assert (await resp.json())["errors"][0]["code"] == "MANIFEST_INVALID"
    assert registry.count("manifests") == 1
