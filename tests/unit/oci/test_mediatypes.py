from __future__ import annotations

import pytest

from cargohold.oci import mediatypes as mt


def test_constants() -> None:
    assert mt.OCI_MANIFEST == "application/vnd.oci.image.manifest.v1+json"
    assert mt.OCI_INDEX == "application/vnd.oci.image.index.v1+json"
    assert mt.DOCKER_MANIFEST == "application/vnd.docker.distribution.manifest.v2+json"
    assert mt.DOCKER_MANIFEST_LIST == "application/vnd.docker.distribution.manifest.list.v2+json"
    assert mt.OCI_EMPTY == "application/vnd.oci.empty.v1+json"
    assert mt.OCI_CONFIG == "application/vnd.oci.image.config.v1+json"
    assert mt.DOCKER_CONFIG == "application/vnd.docker.container.image.v1+json"
    assert frozenset({mt.OCI_MANIFEST, mt.DOCKER_MANIFEST}) == mt.MANIFEST_TYPES
    assert frozenset({mt.OCI_INDEX, mt.DOCKER_MANIFEST_LIST}) == mt.INDEX_TYPES
    assert not mt.MANIFEST_TYPES & mt.INDEX_TYPES
    assert not mt.SCHEMA1_TYPES & mt.SUPPORTED_TYPES
    assert "application/vnd.docker.distribution.manifest.v1+prettyjws" in mt.SCHEMA1_TYPES


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("application/json", "application/json"),
        ("Application/JSON; charset=utf-8", "application/json"),
        ("  text/plain ;q=1", "text/plain"),
        ("", ""),
    ],
)
def test_essence(value: str, expected: str) -> None:
    assert mt.essence(value) == expected


@pytest.mark.parametrize(
    ("accept", "media_type", "expected"),
    [
        ([], mt.OCI_MANIFEST, True),
        ([""], mt.OCI_MANIFEST, True),
        ([" , "], mt.OCI_MANIFEST, True),
        (["*/*"], mt.OCI_MANIFEST, True),
        (["application/*"], mt.OCI_MANIFEST, True),
        (["text/*"], mt.OCI_MANIFEST, False),
        ([mt.OCI_MANIFEST], mt.OCI_MANIFEST, True),
        ([mt.OCI_MANIFEST.upper()], mt.OCI_MANIFEST, True),
        ([mt.OCI_INDEX], mt.OCI_MANIFEST, False),
        ([f"{mt.OCI_INDEX}, {mt.OCI_MANIFEST}"], mt.OCI_MANIFEST, True),
        ([mt.OCI_INDEX, mt.OCI_MANIFEST], mt.OCI_MANIFEST, True),
        ([f"{mt.OCI_MANIFEST}; q=0.5"], mt.OCI_MANIFEST, True),
        ([f"{mt.DOCKER_MANIFEST};q=0.9,{mt.DOCKER_MANIFEST_LIST}"], mt.OCI_INDEX, False),
        (["*/*;q=0.1"], mt.DOCKER_MANIFEST_LIST, True),
        (["application/json"], mt.OCI_MANIFEST, False),
        ([mt.OCI_MANIFEST], mt.OCI_MANIFEST.upper(), True),
    ],
)
def test_acceptable(accept: list[str], media_type: str, expected: bool) -> None:
    assert mt.acceptable(accept, media_type) is expected
