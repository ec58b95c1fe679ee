from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cargohold.errors import ManifestInvalidError, ManifestTooLargeError
from cargohold.oci import mediatypes as mt
from cargohold.oci.digest import Digest
from cargohold.oci.manifest import (
    MAX_MANIFEST_BYTES,
    Descriptor,
    ParsedManifest,
    parse_manifest,
)

CONFIG = Digest.of(b"config")
LAYER1 = Digest.of(b"layer1")
LAYER2 = Digest.of(b"layer2")
CHILD1 = Digest.of(b"child1")
CHILD2 = Digest.of(b"child2")
SUBJECT = Digest.of(b"subject")
ARTIFACT = "application/vnd.example.sbom+json"


def desc(media_type: str, digest: Digest, size: int = 10, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": str(digest), "size": size, **extra}


def oci_manifest(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": desc(mt.OCI_CONFIG, CONFIG),
        "layers": [desc(mt.OCI_LAYER_GZIP, LAYER1), desc(mt.OCI_LAYER_GZIP, LAYER2)],
    }
    doc.update(overrides)
    return {k: v for k, v in doc.items() if v is not DROP}


def oci_index(**overrides: Any) -> dict[str, Any]:
    platform = {"architecture": "amd64", "os": "linux"}
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_INDEX,
        "manifests": [
            desc(mt.OCI_MANIFEST, CHILD1, platform=platform),
            desc(mt.OCI_MANIFEST, CHILD2),
        ],
    }
    doc.update(overrides)
    return {k: v for k, v in doc.items() if v is not DROP}


DROP: Any = object()


def body(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def parse(doc: Any, content_type: str | None = None) -> ParsedManifest:
    return parse_manifest(body(doc), content_type)


def invalid(doc: Any, content_type: str | None = None) -> str:
    with pytest.raises(ManifestInvalidError) as info:
        parse(doc, content_type)
    assert info.value.status == 400
    assert info.value.code == "MANIFEST_INVALID"
    return info.value.message


# --- valid documents ------------------------------------------------------------------------


def test_oci_image_manifest() -> None:
    m = parse(oci_manifest(annotations={"org.opencontainers.image.title": "x"}), mt.OCI_MANIFEST)
    assert m.media_type == mt.OCI_MANIFEST
    assert not m.is_index
    assert m.config == Descriptor(mt.OCI_CONFIG, CONFIG, 10)
    assert [d.digest for d in m.layers] == [LAYER1, LAYER2]
    assert m.manifests == ()
    assert m.subject is None
    assert m.artifact_type == mt.OCI_CONFIG
    assert dict(m.annotations) == {"org.opencontainers.image.title": "x"}
    assert m.blob_references() == (CONFIG, LAYER1, LAYER2)
    assert m.manifest_references() == ()


def test_oci_index() -> None:
    m = parse(oci_index(), mt.OCI_INDEX)
    assert m.is_index
    assert m.config is None
    assert m.layers == ()
    assert m.manifest_references() == (CHILD1, CHILD2)
    assert m.blob_references() == ()
    assert m.artifact_type is None
    platform = m.manifests[0].platform
    assert platform is not None
    assert dict(platform) == {"architecture": "amd64", "os": "linux"}
    assert m.manifests[1].platform is None


def test_docker_manifest_and_list() -> None:
    manifest = oci_manifest(
        mediaType=mt.DOCKER_MANIFEST,
        config=desc(mt.DOCKER_CONFIG, CONFIG),
        layers=[desc(mt.DOCKER_LAYER_GZIP, LAYER1)],
    )
    m = parse(manifest, mt.DOCKER_MANIFEST)
    assert (m.media_type, m.artifact_type, m.is_index) == (
        mt.DOCKER_MANIFEST,
        mt.DOCKER_CONFIG,
        False,
    )
    listing = oci_index(
        mediaType=mt.DOCKER_MANIFEST_LIST,
        manifests=[desc(mt.DOCKER_MANIFEST, CHILD1), desc(mt.OCI_MANIFEST, CHILD2)],
    )
    idx = parse(listing, mt.DOCKER_MANIFEST_LIST)
    assert idx.is_index and idx.media_type == mt.DOCKER_MANIFEST_LIST


def test_artifact_with_subject_and_artifact_type() -> None:
    doc = oci_manifest(
        artifactType=ARTIFACT,
        config=desc(mt.OCI_EMPTY, Digest.of(b"{}"), 2, data=base64.b64encode(b"{}").decode()),
        layers=[desc("application/spdx+json", LAYER1, 123, annotations={"a": "b"})],
        subject=desc(mt.OCI_MANIFEST, SUBJECT, 500),
    )
    m = parse(doc)
    assert m.artifact_type == ARTIFACT
    assert m.subject == Descriptor(mt.OCI_MANIFEST, SUBJECT, 500)
    assert SUBJECT not in m.blob_references()
    assert dict(m.layers[0].annotations) == {"a": "b"}


def test_index_with_artifact_type_and_subject() -> None:
    m = parse(oci_index(artifactType=ARTIFACT, subject=desc(mt.OCI_INDEX, SUBJECT)))
    assert m.artifact_type == ARTIFACT
    assert m.subject is not None and m.subject.digest == SUBJECT


def test_descriptor_optional_fields() -> None:
    layer = desc(
        mt.OCI_LAYER,
        LAYER1,
        0,
        urls=["https://example.com/l"],
        artifactType=ARTIFACT,
        annotations={},
    )
    m = parse(oci_manifest(layers=[layer]))
    d = m.layers[0]
    assert (d.size, d.urls, d.artifact_type) == (0, ("https://example.com/l",), ARTIFACT)


@pytest.mark.parametrize(
    ("doc", "content_type", "expected"),
    [
        # media type from the body, Content-Type absent or generic
        (oci_manifest(), None, mt.OCI_MANIFEST),
        (oci_manifest(), "application/json", mt.OCI_MANIFEST),
        (oci_manifest(), "application/octet-stream", mt.OCI_MANIFEST),
        (oci_manifest(), "", mt.OCI_MANIFEST),
        # from Content-Type, parameters and case ignored
        (oci_manifest(mediaType=DROP), mt.OCI_MANIFEST, mt.OCI_MANIFEST),
        (oci_manifest(), mt.OCI_MANIFEST + "; charset=utf-8", mt.OCI_MANIFEST),
        (oci_manifest(), mt.OCI_MANIFEST.upper(), mt.OCI_MANIFEST),
        (oci_index(mediaType=DROP), mt.OCI_INDEX, mt.OCI_INDEX),
        # inferred
        (oci_manifest(mediaType=DROP), None, mt.OCI_MANIFEST),
        (oci_index(mediaType=DROP), None, mt.OCI_INDEX),
        (oci_index(mediaType=DROP), "application/json", mt.OCI_INDEX),
    ],
)
def test_media_type_resolution(doc: Any, content_type: str | None, expected: str) -> None:
    assert parse(doc, content_type).media_type == expected


def test_descriptors_are_frozen_and_hashable() -> None:
    m = parse(oci_index())
    child = m.manifests[0]
    assert hash(child) == hash(Descriptor(mt.OCI_MANIFEST, CHILD1, 10))
    with pytest.raises(AttributeError):
        child.size = 1  # type: ignore[misc]
    assert child.platform is not None
    with pytest.raises(TypeError):
        child.platform["os"] = "windows"  # type: ignore[index]
    with pytest.raises(TypeError):
        m.annotations["x"] = "y"  # type: ignore[index]


def test_platform_is_deep_frozen() -> None:
    platform = {"architecture": "arm64", "os": "linux", "variant": "v8", "os.features": ["a"]}
    m = parse(oci_index(manifests=[desc(mt.OCI_MANIFEST, CHILD1, platform=platform)]))
    frozen = m.manifests[0].platform
    assert frozen is not None
    assert frozen["os.features"] == ("a",)


def test_exactly_max_size_is_not_too_large() -> None:
    raw = body(oci_manifest())
    padded = raw[:-1] + b" " * (MAX_MANIFEST_BYTES - len(raw)) + b"}"
    assert len(padded) == MAX_MANIFEST_BYTES
    assert parse_manifest(padded, None).media_type == mt.OCI_MANIFEST


# --- rejected documents ---------------------------------------------------------------------


def test_too_large() -> None:
    with pytest.raises(ManifestTooLargeError) as info:
        parse_manifest(b" " * (MAX_MANIFEST_BYTES + 1), mt.OCI_MANIFEST)
    assert info.value.status == 413
    assert str(MAX_MANIFEST_BYTES) in info.value.message


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"", "not valid JSON"),
        (b"{", "not valid JSON"),
        (b"{'a': 1}", "not valid JSON"),
        (b"\xef\xbb\xbf{}", "not valid JSON"),
        (b"[]", "must be a JSON object, got array"),
        (b"null", "must be a JSON object, got null"),
        (b'"x"', "must be a JSON object, got string"),
        (b"2", "must be a JSON object, got number"),
        (b'{"schemaVersion": NaN}', "NaN is not valid JSON"),
        (b'{"schemaVersion": 2, "schemaVersion": 2}', "duplicate JSON key 'schemaVersion'"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"schemaVersion": ' + b"2" * 5000 + b"}", "not valid JSON: Exceeds the limit"),
    ],
)
def test_not_a_json_object(raw: bytes, fragment: str) -> None:
    with pytest.raises(ManifestInvalidError) as info:
        parse_manifest(raw, mt.OCI_MANIFEST)
    assert fragment in info.value.message


SCHEMA1 = "schema 1 manifests are not supported"


@pytest.mark.parametrize(
    ("doc", "content_type", "fragment"),
    [
        # schema 1 in any of its disguises
        ({"schemaVersion": 1, "name": "a/b", "fsLayers": []}, None, SCHEMA1),
        ({"schemaVersion": 1}, mt.DOCKER_SCHEMA1_SIGNED_MANIFEST, SCHEMA1),
        (oci_manifest(mediaType=DROP), mt.DOCKER_SCHEMA1_MANIFEST, SCHEMA1),
        (oci_manifest(mediaType=mt.DOCKER_SCHEMA1_MANIFEST), None, SCHEMA1),
        (oci_manifest(mediaType=DROP), mt.DOCKER_SCHEMA1_SIGNED_MANIFEST + "; x=y", SCHEMA1),
        # schemaVersion
        (oci_manifest(schemaVersion=DROP), None, "schemaVersion is missing"),
        (oci_manifest(schemaVersion=3), None, "schemaVersion must be 2, got 3"),
        (oci_manifest(schemaVersion="2"), None, 'schemaVersion must be 2, got "2"'),
        (oci_manifest(schemaVersion=2.0), None, "schemaVersion must be 2, got 2.0"),
        (oci_manifest(schemaVersion=True), None, "schemaVersion must be 2, got true"),
        (oci_manifest(schemaVersion=None), None, "schemaVersion must be 2, got null"),
        # media type
        (oci_manifest(mediaType=1), None, "mediaType must be a string"),
        (oci_manifest(), mt.OCI_INDEX, "does not match Content-Type"),
        (oci_manifest(mediaType=mt.DOCKER_MANIFEST), mt.OCI_MANIFEST, "does not match"),
        (oci_manifest(mediaType="application/vnd.foo+json"), None, "unsupported manifest media"),
        (oci_manifest(mediaType=DROP), "application/vnd.foo", "unsupported manifest media"),
        (oci_manifest(mediaType=DROP), "text/plain", "unsupported manifest media"),
        ({"schemaVersion": 2}, None, "cannot tell the manifest type"),
        ({"schemaVersion": 2}, "application/json", "cannot tell the manifest type"),
        (oci_manifest(mediaType=DROP), mt.DOCKER_MANIFEST, "must carry its mediaType field"),
        (oci_index(mediaType=DROP), mt.DOCKER_MANIFEST_LIST, "must carry its mediaType field"),
        # image manifest shape
        (oci_manifest(config=DROP), None, "must have a config descriptor"),
        (oci_manifest(mediaType=DROP, config=DROP), None, "must have a config descriptor"),
        (oci_manifest(layers=DROP), None, "must have a layers array"),
        (oci_manifest(layers={}), None, "layers must be an array, got object"),
        (oci_manifest(layers=None), None, "layers must be an array, got null"),
        (oci_manifest(config=[]), None, "config must be a descriptor object, got array"),
        (oci_manifest(config=None), None, "config must be a descriptor object, got null"),
        (oci_manifest(manifests=[]), None, "must not have a manifests field"),
        (oci_manifest(mediaType=DROP, manifests=[]), None, "must not have a config field"),
        # index shape
        (oci_index(manifests=DROP), None, "must have a manifests array"),
        (oci_index(manifests={}), None, "manifests must be an array, got object"),
        (oci_index(manifests="x"), None, "manifests must be an array, got string"),
        (oci_index(manifests=[1]), None, "manifests[0] must be a descriptor object, got number"),
        (oci_index(config=desc(mt.OCI_CONFIG, CONFIG)), None, "must not have a config field"),
        (oci_index(layers=[]), None, "must not have a layers field"),
        (
            oci_index(mediaType=mt.DOCKER_MANIFEST_LIST, manifests=[desc(mt.OCI_INDEX, CHILD1)]),
            None,
            "manifests[0].mediaType 'application/vnd.oci.image.index.v1+json'",
        ),
        (
            oci_index(mediaType=mt.DOCKER_MANIFEST_LIST, manifests=[desc(ARTIFACT, CHILD1)]),
            None,
            "may only list image manifests",
        ),
        # top-level optional fields
        (oci_manifest(annotations=[]), None, "annotations must be an object, got array"),
        (oci_manifest(annotations={"a": 1}), None, "annotations['a'] must be a string, got number"),
        (oci_manifest(artifactType=1), None, "artifactType must be a string"),
        (oci_manifest(artifactType="not a type"), None, "is not a valid media type"),
        (oci_manifest(subject="sha256:x"), None, "subject must be a descriptor object"),
        (oci_index(subject={}), None, "subject.mediaType must be a string, got null"),
    ],
)
def test_invalid_documents(doc: Any, content_type: str | None, fragment: str) -> None:
    assert fragment in invalid(doc, content_type)


GOOD_LAYER = desc(mt.OCI_LAYER, LAYER1)


def layer_with(**changes: Any) -> dict[str, Any]:
    layer = {**GOOD_LAYER, **changes}
    return {k: v for k, v in layer.items() if v is not DROP}


@pytest.mark.parametrize(
    ("layer", "fragment"),
    [
        (layer_with(mediaType=DROP), "layers[0].mediaType must be a string, got null"),
        (layer_with(mediaType=7), "layers[0].mediaType must be a string, got number"),
        (layer_with(mediaType=""), "layers[0].mediaType '' is not a valid media type"),
        (layer_with(mediaType="tar"), "is not a valid media type"),
        (layer_with(mediaType="a/b c"), "is not a valid media type"),
        (layer_with(digest=DROP), "layers[0].digest must be a string, got null"),
        (layer_with(digest=5), "layers[0].digest must be a string, got number"),
        (layer_with(digest="sha256:abc"), "layers[0].digest: invalid sha256 digest"),
        (layer_with(digest="md5:" + "0" * 32), "layers[0].digest: unsupported digest algorithm"),
        (layer_with(digest=str(LAYER1).upper()), "layers[0].digest"),
        (layer_with(size=DROP), "layers[0].size must be an integer, got null"),
        (layer_with(size="10"), "layers[0].size must be an integer, got string"),
        (layer_with(size=1.5), "layers[0].size must be an integer, got number"),
        (layer_with(size=10.0), "layers[0].size must be an integer, got number"),
        (layer_with(size=True), "layers[0].size must be an integer, got boolean"),
        (layer_with(size=-1), "layers[0].size must be between 0 and 2^63-1, got -1"),
        (layer_with(size=2**63), "layers[0].size must be between 0 and 2^63-1"),
        (layer_with(urls="https://x"), "layers[0].urls must be an array of strings"),
        (layer_with(urls=[1]), "layers[0].urls must be an array of strings"),
        (layer_with(annotations=[]), "layers[0].annotations must be an object"),
        (layer_with(annotations={"k": None}), "layers[0].annotations['k'] must be a string"),
        (layer_with(artifactType=3), "layers[0].artifactType must be a string"),
        (layer_with(platform="linux"), "layers[0].platform must be an object"),
        (layer_with(platform={"os": "linux"}), "layers[0].platform.architecture must be a string"),
        (layer_with(platform={"architecture": "amd64"}), "layers[0].platform.os must be a string"),
        (
            layer_with(platform={"architecture": "amd64", "os": "linux", "variant": 8}),
            "layers[0].platform.variant must be a string",
        ),
        (
            layer_with(platform={"architecture": "amd64", "os": "linux", "os.features": "x"}),
            "layers[0].platform.os.features must be an array of strings",
        ),
        (layer_with(data=1), "layers[0].data must be a base64 string"),
        (layer_with(data="!!!"), "layers[0].data is not valid base64"),
        (layer_with(data=base64.b64encode(b"layer1").decode()), "is 6 bytes but size is 10"),
        (layer_with(data=base64.b64encode(b"x" * 10).decode()), "does not match layers[0].digest"),
    ],
)
def test_invalid_descriptor(layer: dict[str, Any], fragment: str) -> None:
    assert fragment in invalid(oci_manifest(layers=[GOOD_LAYER, layer][1:]))


def test_error_names_the_index_of_the_bad_descriptor() -> None:
    message = invalid(oci_manifest(layers=[GOOD_LAYER, GOOD_LAYER, layer_with(size=-5)]))
    assert "layers[2].size" in message


def test_bad_config_descriptor_is_named() -> None:
    assert "config.digest" in invalid(oci_manifest(config=layer_with(digest="sha256:0")))


def test_data_matching_digest_is_accepted() -> None:
    layer = desc(mt.OCI_LAYER, LAYER1, 6, data=base64.b64encode(b"layer1").decode())
    assert parse(oci_manifest(layers=[layer])).layers[0].digest == LAYER1


# --- robustness: only our errors, never a crash ---------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "schemaVersion",
                    "mediaType",
                    "config",
                    "layers",
                    "manifests",
                    "subject",
                    "digest",
                    "size",
                    "annotations",
                    "artifactType",
                    "platform",
                    "urls",
                    "data",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@given(_json, st.sampled_from([None, mt.OCI_MANIFEST, mt.OCI_INDEX, mt.DOCKER_MANIFEST]))
@settings(max_examples=300)
def test_arbitrary_json_raises_only_manifest_invalid(doc: Any, content_type: str | None) -> None:
    try:
        m = parse(doc, content_type)
    except ManifestInvalidError:
        return
    assert m.media_type in mt.SUPPORTED_TYPES


@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_manifest_invalid(raw: bytes) -> None:
    with pytest.raises(ManifestInvalidError):
        parse_manifest(raw, None)
