"""Content digests: ``algorithm:hex`` (OCI image-spec "digests", distribution-spec v1.1).

Only the registered algorithms are accepted, and only in canonical form (lower-case hex of the
exact length). Anything else raises ``DigestInvalidError``; there is no lenient mode, because a
digest is an identity and two spellings of one identity would let a client alias content.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

from cargohold.errors import DigestInvalidError

#: Supported algorithm -> length of its hex encoding.
ALGORITHMS: Mapping[str, int] = MappingProxyType({"sha256": 64, "sha512": 128})

# Image-spec grammar for the algorithm part; used only to tell "malformed" from "unsupported".
_ALGORITHM_RE = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*")
_HEX_RE = re.compile(r"[0-9a-f]+")
_SHOWN = 100  # longest slice of client input echoed in an error message


class Hasher(Protocol):
    """The part of a ``hashlib`` object that cargohold uses."""

    @property
    def name(self) -> str: ...

    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...

    def hexdigest(self) -> str: ...

    def copy(self) -> Hasher: ...


def _shown(value: str) -> str:
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "...")


def _check_algorithm(algorithm: str) -> None:
    if algorithm not in ALGORITHMS:
        raise DigestInvalidError(
            f"unsupported digest algorithm {_shown(algorithm)}; supported: "
            + ", ".join(sorted(ALGORITHMS)),
            detail={"algorithm": algorithm[:_SHOWN]},
        )


def new_hasher(algorithm: str) -> Hasher:
    """Return a fresh hash object for ``algorithm``.

    Raises ``DigestInvalidError`` if the algorithm is not in ``ALGORITHMS``.
    """
    _check_algorithm(algorithm)
    return hashlib.new(algorithm)


@dataclass(frozen=True, slots=True)
class Digest:
    """A validated content digest. ``str(d)`` is the canonical ``"alg:hex"`` form.

    Construction validates: ``Digest("sha256", "ABC")`` raises ``DigestInvalidError``, so every
    ``Digest`` in the program is canonical and equal digests compare and hash equal.
    """

    algorithm: str
    hex: str

    def __post_init__(self) -> None:
        _check_algorithm(self.algorithm)
        expected = ALGORITHMS[self.algorithm]
        if len(self.hex) != expected or not _HEX_RE.fullmatch(self.hex):
            raise DigestInvalidError(
                f"invalid {self.algorithm} digest: the encoded part must be {expected} "
                f"lower-case hex characters, got {_shown(self.hex)}",
                detail={"digest": f"{self.algorithm}:{self.hex}"[:_SHOWN]},
            )

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @classmethod
    def parse(cls, s: str) -> Digest:
        """Parse ``"sha256:<64 hex>"`` or ``"sha512:<128 hex>"`` (lower-case hex only).

        Raises ``DigestInvalidError`` for anything else: a missing ``:``, a malformed or
        unsupported algorithm, or an encoded part of the wrong length or alphabet.
        """
        if not isinstance(s, str):
            raise DigestInvalidError(f"invalid digest: expected a string, got {type(s).__name__}")
        algorithm, sep, encoded = s.partition(":")
        if not sep:
            raise DigestInvalidError(
                f"invalid digest {_shown(s)}: expected 'algorithm:hex'",
                detail={"digest": s[:_SHOWN]},
            )
        if not _ALGORITHM_RE.fullmatch(algorithm):
            raise DigestInvalidError(
                f"invalid digest {_shown(s)}: malformed algorithm {_shown(algorithm)}",
                detail={"digest": s[:_SHOWN]},
            )
        return cls(algorithm, encoded)

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        """Digest of ``data``. Raises ``DigestInvalidError`` for an unsupported algorithm."""
        hasher = new_hasher(algorithm)
        hasher.update(data)
        return cls(algorithm, hasher.hexdigest())

    @classmethod
    def from_hasher(cls, hasher: Hasher) -> Digest:
        """Digest of what was fed to ``hasher`` (a ``hashlib`` object of a supported algorithm)."""
        return cls(hasher.name, hasher.hexdigest())

    def hasher(self) -> Hasher:
        """A fresh hash object of this digest's algorithm, to verify streamed content."""
        return new_hasher(self.algorithm)
