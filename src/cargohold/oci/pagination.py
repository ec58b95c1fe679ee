"""Pagination of the catalog and tag lists (distribution-spec v1.1, "Listing Tags")."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

from cargohold.errors import PaginationInvalidError

DEFAULT_MAXIMUM = 10000
_DIGITS_RE = re.compile(r"\A[0-9]+\Z")
# Characters of an RFC 3986 path that need no escaping; our paths are built from valid names.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def parse_n(value: str | None, *, maximum: int = DEFAULT_MAXIMUM) -> int | None:
    """The ``n`` query parameter: None if absent, else an integer clamped to ``maximum``.

    ``n=0`` is valid (an empty page). Raises ``PaginationInvalidError`` for anything that is not
    a non-negative decimal integer (empty, signs, spaces, decimals, non-ASCII digits).
    """
    if value is None:
        return None
    if not _DIGITS_RE.match(value):
        raise PaginationInvalidError(
            f"invalid n {value[:100]!r}: it must be a non-negative integer",
            detail={"n": value[:100]},
        )
    if len(value) > len(str(maximum)) + 1:  # avoid int() on absurdly long input
        return maximum
    return min(int(value), maximum)


def next_link(path: str, n: int, last: str, extra: Mapping[str, str] | None = None) -> str:
    """The ``Link`` header value for the next page: ``<path?n=N&last=LAST>; rel="next"``.

    ``last`` and the ``extra`` query parameters (kept in their order, after ``n`` and ``last``;
    keys ``n`` and ``last`` in ``extra`` are ignored) are percent-encoded, ``/`` included.
    """
    params = [("n", str(n)), ("last", last)]
    params += [(k, v) for k, v in (extra or {}).items() if k not in ("n", "last")]
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params)
    return f'<{quote(path, safe=_PATH_SAFE)}?{query}>; rel="next"'
