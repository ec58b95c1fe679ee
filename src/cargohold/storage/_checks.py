"""Input checks every backend runs before touching storage.

Digests and upload ids become file names and object keys, so they are checked against a strict
grammar first: no separators, no dots, no upper case, exact lengths. This is the path-traversal
defence, not a convenience.
"""

from __future__ import annotations

import re

from cargohold.errors import BlobUploadUnknownError, DigestInvalidError, RangeInvalidError
from cargohold.storage.protocol import DIGEST_HEX_LENGTHS

_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
_LOWER_HEX = re.compile(r"[0-9a-f]+")


def parse_digest(digest: str) -> tuple[str, str]:
    """Split ``"<alg>:<hex>"`` into ``(alg, hex)``. Raises ``DigestInvalidError``."""
    if not isinstance(digest, str):
        raise DigestInvalidError("digest must be a string", detail={"digest": repr(digest)})
    algorithm, sep, hexdigest = digest.partition(":")
    expected_length = DIGEST_HEX_LENGTHS.get(algorithm)
    if (
        not sep
        or expected_length is None
        or len(hexdigest) != expected_length
        or _LOWER_HEX.fullmatch(hexdigest) is None
    ):
        raise DigestInvalidError("invalid digest", detail={"digest": digest[:200]})
    return algorithm, hexdigest


def stored_digest(algorithm: str, shard: str, name: str) -> str | None:
    """The digest a blob stored as ``<algorithm>/<shard>/<name>`` holds, or None when those
    are not the parts of a blob's name (a listing skips anything else it finds)."""
    if (
        DIGEST_HEX_LENGTHS.get(algorithm) != len(name)
        or _LOWER_HEX.fullmatch(name) is None
        or shard != name[:2]
    ):
        return None
    return f"{algorithm}:{name}"


def check_algorithm(algorithm: str) -> str:
    """Return ``algorithm`` if a blob store supports it. Raises ``DigestInvalidError``."""
    if algorithm not in DIGEST_HEX_LENGTHS:
        raise DigestInvalidError(
            "unsupported digest algorithm", detail={"algorithm": str(algorithm)[:50]}
        )
    return algorithm


def check_upload_id(upload_id: str) -> str:
    """Return ``upload_id`` if well formed. Raises ``BlobUploadUnknownError``."""
    if not isinstance(upload_id, str) or _UPLOAD_ID.fullmatch(upload_id) is None:
        raise BlobUploadUnknownError()
    return upload_id


def check_range(size: int, offset: int, length: int | None) -> int:
    """Return the end of ``[offset, offset + length)`` within a blob of ``size`` bytes.

    Raises ``RangeInvalidError`` unless ``0 <= offset <= end <= size`` (a negative length fails).
    """
    end = size if length is None else offset + length
    if offset < 0 or offset > end or end > size:
        raise RangeInvalidError(detail={"size": size, "offset": offset, "length": length})
    return end


def range_error(current: int, offset: int) -> RangeInvalidError:
    """The 416 for a write at ``offset`` to an upload holding ``current`` bytes."""
    return RangeInvalidError(
        f"upload is at offset {current}, not {offset}",
        detail={"size": current},
        status=416,
    )
