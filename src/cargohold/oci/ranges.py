"""HTTP byte ranges: ``Range`` on blob GET (RFC 9110 section 14) and ``Content-Range`` on
upload PATCH (distribution-spec v1.1, "Pushing a blob in chunks").

All ranges here are inclusive ``(start, end)`` pairs, as on the wire.
"""

from __future__ import annotations

import re

from cargohold.errors import RangeInvalidError

_SPEC_RE = re.compile(r"\A([0-9]*)-([0-9]*)\Z")
# Offsets are bounded to 19 digits (2^63 has 19): longer is malformed, and int() stays cheap.
_CONTENT_RANGE_RE = re.compile(
    r"\A(?:bytes[ \t]+)?([0-9]{1,19})-([0-9]{1,19})(?:/([0-9]{1,19}|\*))?\Z", re.I
)
_MAX_DIGITS = 19  # 2^63 has 19 digits; longer numbers are out of any real size


def _unsatisfiable(size: int, header: str) -> RangeInvalidError:
    return RangeInvalidError(
        f"range {header[:100]!r} not satisfiable for a blob of {size} bytes",
        headers={"Content-Range": f"bytes */{size}"},
    )


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte range a blob GET of ``size`` bytes should serve, or None for all.

    Supports one range: ``bytes=a-b``, ``bytes=a-`` and ``bytes=-n`` (the last ``n`` bytes);
    ``end`` is clamped to ``size - 1``. Returns None, meaning "serve the whole blob with 200",
    when the header is absent, malformed, not in bytes, ``a > b``, or lists several ranges:
    RFC 9110 lets a server ignore any ``Range`` and we do not send multipart responses.

    Raises ``RangeInvalidError`` (416, with ``Content-Range: bytes */<size>``) when the range is
    well formed but unsatisfiable: ``start >= size``, ``bytes=-0``, or any range on an empty blob.
    """
    if header is None:
        return None
    unit, sep, ranges = header.strip().partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    specs = [s.strip() for s in ranges.split(",") if s.strip()]
    if len(specs) != 1:
        return None
    match = _SPEC_RE.match(specs[0])
    if not match or not (match.group(1) or match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    if len(first) > _MAX_DIGITS or len(last) > _MAX_DIGITS:
        # Too long to be a real offset: a start this large is past any blob's end.
        if len(first) > _MAX_DIGITS:
            raise _unsatisfiable(size, header)
        last = str(2**63)  # a huge end or suffix length just means "to the end"/"everything"
    if not first:  # suffix range: the last n bytes
        length = int(last)
        if length == 0 or size == 0:
            raise _unsatisfiable(size, header)
        return max(0, size - length), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        raise _unsatisfiable(size, header)
    return start, min(end, size - 1)


def parse_content_range(header: str) -> tuple[int, int]:
    """The inclusive ``(start, end)`` of an upload chunk's ``Content-Range``.

    Accepts ``start-end`` (the distribution-spec form), ``bytes start-end``,
    ``bytes start-end/*`` and ``bytes start-end/total``. Raises ``RangeInvalidError`` (416) if
    the header is malformed, ``end < start``, or ``end`` is not below a given ``total``.
    """
    match = _CONTENT_RANGE_RE.match(header.strip())
    if not match:
        raise RangeInvalidError(
            f"malformed Content-Range {header[:100]!r}; expected '<start>-<end>'"
        )
    start, end = int(match.group(1)), int(match.group(2))
    if end < start:
        raise RangeInvalidError(f"Content-Range {header[:100]!r} ends before it starts")
    total = match.group(3)
    if total not in (None, "*") and end >= int(total):
        raise RangeInvalidError(f"Content-Range {header[:100]!r} ends past its total length")
    return start, end
