"""Manifest and index validation: bytes in, an immutable ``ParsedManifest`` out.

Supported: OCI image manifest and index (image-spec v1.1, with ``subject`` and ``artifactType``),
Docker image manifest v2 schema 2 and manifest list. Docker schema 1 is rejected.

Hardening beyond the JSON schemas, each for a reason:

- duplicate JSON keys are rejected: two parsers could otherwise read different manifests from
  the same bytes (the digest identifies the bytes, so the meaning must be unambiguous);
- an image manifest with ``manifests``, or an index with ``config``/``layers``, is rejected
  (CVE-2021-41190: a document that both kinds of parser accept with different meanings);
- a descriptor's embedded ``data`` must decode to exactly ``size`` bytes matching ``digest``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from cargohold.errors import DigestInvalidError, ManifestInvalidError, ManifestTooLargeError
from cargohold.oci import mediatypes as mt
from cargohold.oci.digest import Digest

MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_SIZE = 2**63 - 1  # fits a signed 64-bit column

# RFC 6838 section 4.2 restricted names, as in the image-spec descriptor schema.
_MEDIA_TYPE_RE = re.compile(
    r"\A[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\Z"
)
# A Content-Type that says nothing about which manifest schema applies.
_GENERIC_CONTENT_TYPES = frozenset({"", "application/json", "application/octet-stream"})


def _empty_map() -> Mapping[str, str]:
    return MappingProxyType({})


def _freeze(value: Any) -> Any:
    """Deep-freeze parsed JSON: dicts become read-only mappings, lists become tuples."""
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


@dataclass(frozen=True)
class Descriptor:
    """A content descriptor. Hashing uses the identity fields; equality uses all fields."""

    media_type: str
    digest: Digest
    size: int
    artifact_type: str | None = None
    annotations: Mapping[str, str] = field(default_factory=_empty_map, hash=False)
    platform: Mapping[str, Any] | None = field(default=None, hash=False)
    urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParsedManifest:
    """A validated manifest or index.

    ``artifact_type`` is the effective type for the referrers API: the manifest's
    ``artifactType``; else, for an image manifest, ``config.mediaType``; else ``None``.
    """

    media_type: str
    config: Descriptor | None
    layers: tuple[Descriptor, ...]
    manifests: tuple[Descriptor, ...]
    subject: Descriptor | None
    artifact_type: str | None
    annotations: Mapping[str, str] = field(default_factory=_empty_map, hash=False)

    @property
    def is_index(self) -> bool:
        return self.media_type in mt.INDEX_TYPES

    def blob_references(self) -> tuple[Digest, ...]:
        """Digests of the blobs this manifest needs: config then layers (not the subject)."""
        head = (self.config.digest,) if self.config is not None else ()
        return head + tuple(d.digest for d in self.layers)

    def manifest_references(self) -> tuple[Digest, ...]:
        """Digests of an index's child manifests, in order (empty for an image manifest)."""
        return tuple(d.digest for d in self.manifests)


def _invalid(message: str) -> ManifestInvalidError:
    return ManifestInvalidError(f"manifest invalid: {message}")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _invalid(f"duplicate JSON key {key!r}")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise _invalid(f"{name} is not valid JSON")


def _load(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid(f"not UTF-8 (byte {exc.start})") from exc
    try:
        doc = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise _invalid(
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except RecursionError as exc:
        raise _invalid("JSON nested too deeply") from exc
    except ValueError as exc:  # e.g. an integer past Python's int-from-string digit limit
        raise _invalid(f"not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise _invalid(f"must be a JSON object, got {_json_type(doc)}")
    return doc


_JSON_TYPES = {type(None): "null", bool: "boolean", int: "number", float: "number"}
_JSON_TYPES.update({str: "string", list: "array", dict: "object"})


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), "object")


def _is_string_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _media_type(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _invalid(f"{where} must be a string, got {_json_type(value)}")
    if not _MEDIA_TYPE_RE.match(value):
        raise _invalid(f"{where} {value[:100]!r} is not a valid media type")
    return value


def _string_map(value: Any, where: str) -> Mapping[str, str]:
    if not isinstance(value, dict):
        raise _invalid(f"{where} must be an object, got {_json_type(value)}")
    for key, item in value.items():
        if not isinstance(item, str):
            raise _invalid(f"{where}[{key!r}] must be a string, got {_json_type(item)}")
    return MappingProxyType(dict(value))


def _platform(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _invalid(f"{where} must be an object, got {_json_type(value)}")
    for key in ("architecture", "os"):
        if not isinstance(value.get(key), str):
            raise _invalid(f"{where}.{key} must be a string")
    for key in ("os.version", "variant"):
        if key in value and not isinstance(value[key], str):
            raise _invalid(f"{where}.{key} must be a string")
    for key in ("os.features", "features"):
        if key in value and not _is_string_list(value[key]):
            raise _invalid(f"{where}.{key} must be an array of strings")
    return _freeze(value)  # type: ignore[no-any-return]


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise _invalid(f"{where} must be a descriptor object, got {_json_type(value)}")
    media_type = _media_type(value.get("mediaType"), f"{where}.mediaType")
    raw_digest = value.get("digest")
    if not isinstance(raw_digest, str):
        raise _invalid(f"{where}.digest must be a string, got {_json_type(raw_digest)}")
    try:
        digest = Digest.parse(raw_digest)
    except DigestInvalidError as exc:
        raise _invalid(f"{where}.digest: {exc.message}") from exc
    size = value.get("size")
    if type(size) is not int:  # bool is an int subclass; 1.0 is not an integer size
        raise _invalid(f"{where}.size must be an integer, got {_json_type(size)}")
    if not 0 <= size <= MAX_SIZE:
        raise _invalid(f"{where}.size must be between 0 and 2^63-1, got {size}")
    urls: tuple[str, ...] = ()
    if "urls" in value:
        if not _is_string_list(value["urls"]):
            raise _invalid(f"{where}.urls must be an array of strings")
        urls = tuple(value["urls"])
    annotations = _empty_map()
    if "annotations" in value:
        annotations = _string_map(value["annotations"], f"{where}.annotations")
    artifact_type = None
    if "artifactType" in value:
        artifact_type = _media_type(value["artifactType"], f"{where}.artifactType")
    platform = _platform(value["platform"], f"{where}.platform") if "platform" in value else None
    if "data" in value:
        _check_data(value["data"], digest, size, where)
    return Descriptor(media_type, digest, size, artifact_type, annotations, platform, urls)


def _check_data(data: Any, digest: Digest, size: int, where: str) -> None:
    if not isinstance(data, str):
        raise _invalid(f"{where}.data must be a base64 string, got {_json_type(data)}")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _invalid(f"{where}.data is not valid base64") from exc
    if len(raw) != size:
        raise _invalid(f"{where}.data is {len(raw)} bytes but size is {size}")
    if Digest.of(raw, digest.algorithm) != digest:
        raise _invalid(f"{where}.data does not match {where}.digest")


def _descriptors(doc: dict[str, Any], key: str) -> tuple[Descriptor, ...]:
    value = doc[key]
    if not isinstance(value, list):
        raise _invalid(f"{key} must be an array, got {_json_type(value)}")
    return tuple(_descriptor(item, f"{key}[{i}]") for i, item in enumerate(value))


def _resolve_media_type(doc: dict[str, Any], content_type: str | None) -> str:
    """Which schema applies: the body's ``mediaType``, the Content-Type, or inference."""
    declared: str | None = None
    if "mediaType" in doc:
        if not isinstance(doc["mediaType"], str):
            raise _invalid(f"mediaType must be a string, got {_json_type(doc['mediaType'])}")
        declared = mt.essence(doc["mediaType"])
    header = mt.essence(content_type or "")
    header_type = None if header in _GENERIC_CONTENT_TYPES else header
    if (
        declared in mt.SCHEMA1_TYPES
        or header_type in mt.SCHEMA1_TYPES
        or (type(doc.get("schemaVersion")) is int and doc["schemaVersion"] == 1)
    ):
        raise _invalid("schema 1 manifests are not supported; push an OCI or Docker v2 manifest")
    version = doc.get("schemaVersion")
    if "schemaVersion" not in doc:
        raise _invalid("schemaVersion is missing; it must be 2")
    if type(version) is not int or version != 2:
        raise _invalid(f"schemaVersion must be 2, got {json.dumps(version)[:100]}")
    if declared is not None and header_type is not None and declared != header_type:
        raise _invalid(
            f"mediaType {declared!r} in the body does not match Content-Type {header_type!r}"
        )
    media_type = declared or header_type
    if media_type is None:
        if "manifests" in doc:
            return mt.OCI_INDEX
        if "config" in doc or "layers" in doc:
            return mt.OCI_MANIFEST
        raise _invalid("cannot tell the manifest type: set mediaType or Content-Type")
    if media_type not in mt.SUPPORTED_TYPES:
        raise _invalid(
            f"unsupported manifest media type {media_type[:100]!r}; supported: "
            + ", ".join(sorted(mt.SUPPORTED_TYPES))
        )
    if media_type in mt.DOCKER_TYPES and declared is None:
        raise _invalid(f"a {media_type} manifest must carry its mediaType field")
    return media_type


def parse_manifest(body: bytes, content_type: str | None) -> ParsedManifest:
    """Validate a manifest or index body as pushed with ``Content-Type: content_type``.

    The media type is the body's ``mediaType`` field, else ``content_type`` (parameters
    ignored; ``application/json`` and ``application/octet-stream`` count as absent); if both are
    given they must agree. With neither, ``manifests`` means an OCI index and ``config`` or
    ``layers`` an OCI image manifest. Docker types must carry the ``mediaType`` field.

    Raises ``ManifestTooLargeError`` (413) above ``MAX_MANIFEST_BYTES``, else
    ``ManifestInvalidError`` with a message naming the offending field (e.g. ``layers[2].size``).
    Pure: does not check that referenced blobs or manifests exist.
    """
    if len(body) > MAX_MANIFEST_BYTES:
        raise ManifestTooLargeError(
            f"manifest is {len(body)} bytes; the limit is {MAX_MANIFEST_BYTES}",
            detail={"size": len(body), "limit": MAX_MANIFEST_BYTES},
        )
    doc = _load(body)
    media_type = _resolve_media_type(doc, content_type)

    config: Descriptor | None = None
    layers: tuple[Descriptor, ...] = ()
    manifests: tuple[Descriptor, ...] = ()
    if media_type in mt.MANIFEST_TYPES:
        if "manifests" in doc:
            raise _invalid("an image manifest must not have a manifests field")
        if "config" not in doc:
            raise _invalid("an image manifest must have a config descriptor")
        config = _descriptor(doc["config"], "config")
        if "layers" not in doc:
            raise _invalid("an image manifest must have a layers array")
        layers = _descriptors(doc, "layers")
    else:
        for key in ("config", "layers"):
            if key in doc:
                raise _invalid(f"an index must not have a {key} field")
        if "manifests" not in doc:
            raise _invalid("an index must have a manifests array")
        manifests = _descriptors(doc, "manifests")
        if media_type == mt.DOCKER_MANIFEST_LIST:
            for i, child in enumerate(manifests):
                if child.media_type not in mt.MANIFEST_TYPES:
                    raise _invalid(
                        f"manifests[{i}].mediaType {child.media_type!r}: a Docker manifest list "
                        "may only list image manifests"
                    )

    subject = _descriptor(doc["subject"], "subject") if "subject" in doc else None
    artifact_type = None
    if "artifactType" in doc:
        artifact_type = _media_type(doc["artifactType"], "artifactType")
    elif config is not None:
        artifact_type = config.media_type
    annotations = _empty_map()
    if "annotations" in doc:
        annotations = _string_map(doc["annotations"], "annotations")
    return ParsedManifest(
        media_type=media_type,
        config=config,
        layers=layers,
        manifests=manifests,
        subject=subject,
        artifact_type=artifact_type,
        annotations=annotations,
    )
