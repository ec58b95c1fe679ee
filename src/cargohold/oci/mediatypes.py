"""Media types of manifests and configs, and ``Accept`` negotiation for manifest GET."""

from __future__ import annotations

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"

#: Docker image manifest schema 1 (unsigned and signed). Not supported: rejected on PUT.
DOCKER_SCHEMA1_MANIFEST = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED_MANIFEST = "application/vnd.docker.distribution.manifest.v1+prettyjws"
SCHEMA1_TYPES: frozenset[str] = frozenset({DOCKER_SCHEMA1_MANIFEST, DOCKER_SCHEMA1_SIGNED_MANIFEST})

#: Image manifests: a config plus layers.
MANIFEST_TYPES: frozenset[str] = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
#: Indexes: a list of child manifests.
INDEX_TYPES: frozenset[str] = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
#: Every manifest media type cargohold stores.
SUPPORTED_TYPES: frozenset[str] = MANIFEST_TYPES | INDEX_TYPES
#: Docker types, which must name themselves in the body's ``mediaType`` field.
DOCKER_TYPES: frozenset[str] = frozenset({DOCKER_MANIFEST, DOCKER_MANIFEST_LIST})


def essence(value: str) -> str:
    """The media type without parameters, stripped and lower-cased.

    ``"Application/JSON; charset=utf-8"`` -> ``"application/json"``. Media types are
    case-insensitive (RFC 6838), parameters do not change which manifest schema applies.
    """
    return value.split(";", 1)[0].strip().lower()


def acceptable(accept_values: list[str], media_type: str) -> bool:
    """Whether a manifest of ``media_type`` may be served to a client sending ``accept_values``.

    ``accept_values`` are the raw ``Accept`` header values (the header may repeat and each value
    may be a comma-separated list). True if there is no non-empty entry, or any entry, with its
    parameters stripped and compared case-insensitively, is ``*/*``, ``<type>/*`` of the same
    type, or ``media_type`` itself. Quality values are ignored (``q=0`` still matches), as in
    distribution.
    """
    wanted = essence(media_type)
    major = wanted.split("/", 1)[0]
    seen = False
    for value in accept_values:
        for item in value.split(","):
            entry = essence(item)
            if not entry:
                continue
            seen = True
            if entry in ("*/*", wanted, f"{major}/*"):
                return True
    return not seen
