"""Manifests, tags, referrers and catalog through the HTTP API (auth off)."""

from __future__ import annotations

import io
import json
from typing import Any

from support.registry_app import Registry, digest_of, manifest_for, push_blob, push_image

NAME = "acme/app"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


async def code(resp: Any) -> str:
    return str((await resp.json())["errors"][0]["code"])


async def test_put_get_head_by_tag_and_digest(registry: Registry) -> None:
    c = registry.client
    digest, body = await push_image(c, NAME, "v1")
    assert digest == digest_of(body)
    for ref in ("v1", digest):
        got = await c.get(f"/v2/{NAME}/manifests/{ref}", headers={"Accept": OCI_MANIFEST})
        assert got.status == 200
        assert await got.read() == body
        assert got.headers["Docker-Content-Digest"] == digest
        assert got.headers["Content-Type"] == OCI_MANIFEST
        head = await c.head(f"/v2/{NAME}/manifests/{ref}")
        assert head.status == 200
        assert head.headers["Content-Length"] == str(len(body))


async def test_accept_negotiation(registry: Registry) -> None:
    c = registry.client
    await push_image(c, NAME, "v1")
    only_docker = await c.get(f"/v2/{NAME}/manifests/v1", headers={"Accept": DOCKER_MANIFEST})
    assert only_docker.status == 404
    assert await code(only_docker) == "MANIFEST_UNKNOWN"
    both = await c.get(
        f"/v2/{NAME}/manifests/v1", headers={"Accept": f"{DOCKER_MANIFEST}, {OCI_MANIFEST}"}
    )
    assert both.status == 200
    anything = await c.get(f"/v2/{NAME}/manifests/v1", headers={"Accept": "*/*"})
    assert anything.status == 200


async def test_docker_schema2_manifest(registry: Registry) -> None:
    c = registry.client
    config, layer = b'{"os":"linux"}', b"docker layer"
    await push_blob(c, NAME, config)
    await push_blob(c, NAME, layer)
    doc = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "digest": digest_of(config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "digest": digest_of(layer),
                "size": len(layer),
            }
        ],
    }
    body = json.dumps(doc).encode()
    resp = await c.put(
        f"/v2/{NAME}/manifests/d1", data=body, headers={"Content-Type": DOCKER_MANIFEST}
    )
    assert resp.status == 201, await resp.text()
    got = await c.get(f"/v2/{NAME}/manifests/d1", headers={"Accept": DOCKER_MANIFEST})
    assert got.headers["Content-Type"] == DOCKER_MANIFEST


async def test_invalid_manifests_change_nothing(registry: Registry) -> None:
    c = registry.client
    await push_image(c, NAME, "v1")
    before = (registry.count("manifests"), registry.count("tags"))
    cases: list[tuple[bytes, str, str, int]] = [
        (b"{not json", OCI_MANIFEST, "MANIFEST_INVALID", 400),
        (b"[]", OCI_MANIFEST, "MANIFEST_INVALID", 400),
        (
            b'{"schemaVersion": 2, "mediaType": "application/x-unknown"}',
            "application/x-unknown",
            "MANIFEST_INVALID",
            400,
        ),
        (
            b'{"schemaVersion": 1, "name": "x"}',
            "application/vnd.docker.distribution.manifest.v1+json",
            "MANIFEST_INVALID",
            400,
        ),
        (
            manifest_for(b"missing config", [b"missing layer"]),
            OCI_MANIFEST,
            "MANIFEST_BLOB_UNKNOWN",
            400,
        ),
        (b" " * (4 * 1024 * 1024 + 1), OCI_MANIFEST, "MANIFEST_TOO_LARGE", 413),
    ]
    for body, ctype, expected, status in cases:
        # aiohttp warns (ResourceWarning) when a body over 1 MiB is given as bytes: it would be
        # written in one piece on the loop. A file object is streamed.
        resp = await c.put(
            f"/v2/{NAME}/manifests/v2", data=io.BytesIO(body), headers={"Content-Type": ctype}
        )
        assert resp.status == status, (expected, await resp.text())
        assert await code(resp) == expected
    assert (registry.count("manifests"), registry.count("tags")) == before
    assert (await c.get(f"/v2/{NAME}/manifests/v2")).status == 404


async def test_put_by_digest_must_match(registry: Registry) -> None:
    c = registry.client
    config, layer = b"{}", b"l"
    await push_blob(c, NAME, config)
    await push_blob(c, NAME, layer)
    body = manifest_for(config, [layer])
    wrong = await c.put(
        f"/v2/{NAME}/manifests/{digest_of(b'other')}",
        data=body,
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert wrong.status == 400
    assert await code(wrong) == "DIGEST_INVALID"
    right = await c.put(
        f"/v2/{NAME}/manifests/{digest_of(body)}", data=body, headers={"Content-Type": OCI_MANIFEST}
    )
    assert right.status == 201
    assert registry.count("tags") == 0


async def test_index_requires_children_and_round_trips(registry: Registry) -> None:
    c = registry.client
    amd, amd_body = await push_image(c, NAME, "amd64", seed=b"a")
    arm, arm_body = await push_image(c, NAME, "arm64", seed=b"b")
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": amd,
                "size": len(amd_body),
                "platform": {"architecture": "amd64", "os": "linux"},
            },
            {
                "mediaType": OCI_MANIFEST,
                "digest": arm,
                "size": len(arm_body),
                "platform": {"architecture": "arm64", "os": "linux"},
            },
        ],
    }
    body = json.dumps(index, indent=3).encode()
    missing = dict(
        index,
        manifests=[
            *index["manifests"],
            {"mediaType": OCI_MANIFEST, "digest": digest_of(b"z"), "size": 1},
        ],
    )
    resp = await c.put(
        f"/v2/{NAME}/manifests/multi",
        data=json.dumps(missing).encode(),
        headers={"Content-Type": OCI_INDEX},
    )
    assert resp.status == 400
    assert await code(resp) == "MANIFEST_BLOB_UNKNOWN"
    resp = await c.put(
        f"/v2/{NAME}/manifests/multi", data=body, headers={"Content-Type": OCI_INDEX}
    )
    assert resp.status == 201
    got = await c.get(f"/v2/{NAME}/manifests/multi", headers={"Accept": OCI_INDEX})
    assert await got.read() == body  # byte for byte
    # A child listed by an index cannot be deleted from under it.
    refused = await c.delete(f"/v2/{NAME}/manifests/{amd}")
    assert refused.status == 409
    assert (await c.delete(f"/v2/{NAME}/manifests/{digest_of(body)}")).status == 202
    assert (await c.delete(f"/v2/{NAME}/manifests/{amd}")).status == 202


async def test_delete_tag_and_manifest_never_leaves_dangling_tags(registry: Registry) -> None:
    c = registry.client
    digest, _ = await push_image(c, NAME, "v1")
    await push_image(c, NAME, "v1-alias")
    assert (await c.delete(f"/v2/{NAME}/manifests/v1")).status == 202
    assert (await c.get(f"/v2/{NAME}/manifests/v1")).status == 404
    assert (await c.get(f"/v2/{NAME}/manifests/{digest}")).status == 200
    assert (await c.delete(f"/v2/{NAME}/manifests/{digest}")).status == 202
    assert (await c.get(f"/v2/{NAME}/manifests/v1-alias")).status == 404
    assert registry.count("tags") == 0
    assert (await c.delete(f"/v2/{NAME}/manifests/{digest}")).status == 404
    # A blob still used by a manifest cannot be deleted.
    await push_image(c, NAME, "v2", seed=b"q")
    used = await c.delete(f"/v2/{NAME}/blobs/{digest_of(b'layer-' + b'q' * 100)}")
    assert used.status == 409


async def test_tags_list_pagination(registry: Registry) -> None:
    c = registry.client
    for tag in ("b", "a", "d", "c", "e"):
        await push_image(c, NAME, tag)
    full = await (await c.get(f"/v2/{NAME}/tags/list")).json()
    assert full == {"name": NAME, "tags": ["a", "b", "c", "d", "e"]}
    page = await c.get(f"/v2/{NAME}/tags/list?n=2")
    assert (await page.json())["tags"] == ["a", "b"]
    assert page.headers["Link"].endswith('rel="next"')
    assert "last=b" in page.headers["Link"]
    rest = await c.get(f"/v2/{NAME}/tags/list?n=2&last=d")
    assert (await rest.json())["tags"] == ["e"]
    assert "Link" not in rest.headers
    zero = await c.get(f"/v2/{NAME}/tags/list?n=0")
    assert (await zero.json())["tags"] == []
    bad = await c.get(f"/v2/{NAME}/tags/list?n=abc")
    assert bad.status == 400
    unknown = await c.get("/v2/acme/none/tags/list")
    assert unknown.status == 404
    assert await code(unknown) == "NAME_UNKNOWN"


async def test_catalog_pagination(registry: Registry) -> None:
    c = registry.client
    for name in ("acme/c", "acme/a", "acme/b/nested"):
        await push_image(c, name, "v1")
    full = await (await c.get("/v2/_catalog")).json()
    assert full["repositories"] == ["acme/a", "acme/b/nested", "acme/c"]
    page = await c.get("/v2/_catalog?n=1&last=acme/a")
    assert (await page.json())["repositories"] == ["acme/b/nested"]
    assert "Link" in page.headers


async def test_referrers_and_subject(registry: Registry) -> None:
    c = registry.client
    subject, subject_body = await push_image(c, NAME, "v1")
    empty = b"{}"
    await push_blob(c, NAME, empty)
    artifact = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.sbom",
        "config": {
            "mediaType": "application/vnd.oci.empty.v1+json",
            "digest": digest_of(empty),
            "size": 2,
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.empty.v1+json",
                "digest": digest_of(empty),
                "size": 2,
            }
        ],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": len(subject_body)},
        "annotations": {"org.example": "yes"},
    }
    body = json.dumps(artifact).encode()
    resp = await c.put(
        f"/v2/{NAME}/manifests/{digest_of(body)}", data=body, headers={"Content-Type": OCI_MANIFEST}
    )
    assert resp.status == 201
    assert resp.headers["OCI-Subject"] == subject
    listed = await c.get(f"/v2/{NAME}/referrers/{subject}")
    assert listed.status == 200
    assert listed.headers["Content-Type"].startswith(OCI_INDEX)
    index = await listed.json()
    assert index["manifests"] == [
        {
            "mediaType": OCI_MANIFEST,
            "digest": digest_of(body),
            "size": len(body),
            "artifactType": "application/vnd.example.sbom",
            "annotations": {"org.example": "yes"},
        }
    ]
    filtered = await c.get(f"/v2/{NAME}/referrers/{subject}?artifactType=application/other")
    assert filtered.headers["OCI-Filters-Applied"] == "artifactType"
    assert (await filtered.json())["manifests"] == []
    unknown = await c.get(f"/v2/{NAME}/referrers/{digest_of(b'unknown')}")
    assert unknown.status == 200
    assert (await unknown.json())["manifests"] == []


async def test_subject_may_not_exist_yet(registry: Registry) -> None:
    c = registry.client
    empty = b"{}"
    await push_blob(c, NAME, empty)
    ghost = digest_of(b"ghost manifest")
    artifact = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.example.config",
            "digest": digest_of(empty),
            "size": 2,
        },
        "layers": [],
        "subject": {"mediaType": OCI_MANIFEST, "digest": ghost, "size": 10},
    }
    body = json.dumps(artifact).encode()
    resp = await c.put(
        f"/v2/{NAME}/manifests/{digest_of(body)}", data=body, headers={"Content-Type": OCI_MANIFEST}
    )
    assert resp.status == 201
    index = await (await c.get(f"/v2/{NAME}/referrers/{ghost}")).json()
    assert index["manifests"][0]["artifactType"] == "application/vnd.example.config"


async def test_invalid_names_and_methods(registry: Registry) -> None:
    c = registry.client
    for name in (
        "Acme/App",
        "acme/../etc",
        "single",
        "acme//app",
        "acme/" + "a" * 300,
        "acme/app-",
    ):
        resp = await c.get(f"/v2/{name}/tags/list")
        assert resp.status == 400, name
        assert await code(resp) == "NAME_INVALID"
    resp = await c.post(f"/v2/{NAME}/manifests/v1")
    assert resp.status == 405
    assert await code(resp) == "UNSUPPORTED"
    base = await c.get("/v2/")
    assert base.status == 200
    assert base.headers["Docker-Distribution-API-Version"] == "registry/2.0"
