"""The stored state of one S3 upload: a small JSON object, changed only by compare-and-swap.

Every change of an upload (a write, a truncate, a commit starting) is one conditional PUT of
this object with ``If-Match`` on the ETag that was read, so two processes can never both
believe they changed it. Each encoding carries a fresh random ``rev``: S3 ETags are content
hashes, and without it writing back an identical state would let a stale ETag match (ABA).

The state is read back from the bucket, so it is validated like input: a segment name becomes
an object key, and must match a strict grammar; sizes must add up.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from cargohold.errors import StorageError

_SEGMENT_NAME = re.compile(r"[0-9a-f]{16}-[0-9a-f]{8}")
_VERSION = 1


def segment_name(start: int) -> str:
    """A fresh, never-reused object name for a segment that starts at byte ``start``."""
    return f"{start:016x}-{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class Segment:
    """One immutable object holding bytes ``[start, start + size)`` of the upload."""

    name: str
    start: int
    size: int
    etag: str

    @property
    def end(self) -> int:
        return self.start + self.size


@dataclass(frozen=True, slots=True)
class Lease:
    """Exclusive right to change the upload until ``until`` (Unix time), held by ``token``."""

    token: str
    until: float


@dataclass(frozen=True, slots=True)
class UploadRecord:
    """What an upload holds: its segments (contiguous from byte 0), who may change it, and the
    digest and S3 multipart upload id of a commit in flight (so ``cancel`` can abort it after a
    crash)."""

    segments: tuple[Segment, ...] = ()
    lease: Lease | None = None
    compose: tuple[str, str] | None = None
    rev: str = field(default_factory=lambda: secrets.token_hex(8))

    @property
    def size(self) -> int:
        return self.segments[-1].end if self.segments else 0

    def leased(self, now: float | None = None) -> bool:
        """Whether a lease is held and not yet expired."""
        return self.lease is not None and self.lease.until > (time.time() if now is None else now)

    def encode(self) -> bytes:
        """Serialise with a fresh ``rev`` (see the module docstring)."""
        body: dict[str, Any] = {
            "v": _VERSION,
            "rev": secrets.token_hex(8),
            "segments": [[s.name, s.start, s.size, s.etag] for s in self.segments],
            "lease": None if self.lease is None else [self.lease.token, self.lease.until],
            "compose": None if self.compose is None else list(self.compose),
        }
        return json.dumps(body, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, raw: bytes, upload_id: str) -> UploadRecord:
        """Parse a stored state. Raises ``StorageError`` if it is not one we wrote."""
        try:
            body = json.loads(raw)
            if body["v"] != _VERSION:
                raise ValueError(f"version {body['v']!r}")
            segments: list[Segment] = []
            position = 0
            for name, start, size, etag in body["segments"]:
                ok = (
                    isinstance(name, str)
                    and _SEGMENT_NAME.fullmatch(name) is not None
                    and isinstance(etag, str)
                    and type(start) is int
                    and type(size) is int
                    and start == position
                    and size > 0
                )
                if not ok:
                    raise ValueError(f"bad segment {name!r}")
                segments.append(Segment(name, start, size, etag))
                position += size
            lease = None
            if body["lease"] is not None:
                token, until = body["lease"]
                lease = Lease(str(token), float(until))
            compose = None
            if body["compose"] is not None:
                digest, mpu = body["compose"]
                if not isinstance(digest, str) or not isinstance(mpu, str):
                    raise ValueError("bad compose")
                compose = (digest, mpu)
            return cls(tuple(segments), lease, compose, str(body["rev"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise StorageError(f"upload {upload_id}: corrupt state object: {exc}") from exc
