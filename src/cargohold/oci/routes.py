"""The one mapping from an HTTP method and path to a registry route and its action.

It runs before any handler, so authorization and error reporting see the same route. The
repository name is not validated here; the pipeline does that to answer ``NAME_INVALID``.

Names may contain path components that look like route markers (``a/blobs/b``), so the name is
everything before the *last* marker: the reference, digest or session after it has no ``/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class RouteKind(StrEnum):
    BASE = "base"
    CATALOG = "catalog"
    TAGS_LIST = "tags_list"
    MANIFEST = "manifest"
    BLOB = "blob"
    UPLOAD_START = "upload_start"
    UPLOAD = "upload"
    REFERRERS = "referrers"


@dataclass(frozen=True)
class Route:
    """A matched route.

    ``reference`` is the unparsed manifest reference, blob digest or referrers subject digest;
    ``session`` the upload id; ``action`` is ``"pull"``, ``"push"``, ``"delete"`` or None (base,
    catalog, or a method the route does not allow). ``method_allowed`` False means answer 405.
    """

    kind: RouteKind
    method: str
    name: str | None = None
    reference: str | None = None
    session: str | None = None
    action: str | None = None
    method_allowed: bool = True


_PULL = {"GET": "pull", "HEAD": "pull"}
# Method -> action for each route kind; a method not listed is not allowed on that route.
# Upload sessions are push-side state, so even reading one's status needs push.
_ACTIONS: dict[RouteKind, dict[str, str | None]] = {
    RouteKind.BASE: {"GET": None, "HEAD": None},
    RouteKind.CATALOG: {"GET": None, "HEAD": None},
    RouteKind.TAGS_LIST: {**_PULL},
    RouteKind.MANIFEST: {**_PULL, "PUT": "push", "DELETE": "delete"},
    RouteKind.BLOB: {**_PULL, "DELETE": "delete"},
    RouteKind.UPLOAD_START: {"POST": "push"},
    RouteKind.UPLOAD: {"GET": "push", "PATCH": "push", "PUT": "push", "DELETE": "push"},
    RouteKind.REFERRERS: {**_PULL},
}

# re.S: any character may be in a name; rejecting odd ones is the pipeline's job (NAME_INVALID).
# Order matters only for ties (same name length): ``<name>/blobs/uploads`` is an upload start,
# not the blob whose digest is "uploads".
_PATTERNS: tuple[tuple[RouteKind, re.Pattern[str]], ...] = (
    (RouteKind.UPLOAD_START, re.compile(r"(?P<name>.+)/blobs/uploads/?", re.S)),
    (RouteKind.UPLOAD, re.compile(r"(?P<name>.+)/blobs/uploads/(?P<session>[^/]+)", re.S)),
    (RouteKind.BLOB, re.compile(r"(?P<name>.+)/blobs/(?P<ref>[^/]+)", re.S)),
    (RouteKind.MANIFEST, re.compile(r"(?P<name>.+)/manifests/(?P<ref>[^/]+)", re.S)),
    (RouteKind.TAGS_LIST, re.compile(r"(?P<name>.+)/tags/list", re.S)),
    (RouteKind.REFERRERS, re.compile(r"(?P<name>.+)/referrers/(?P<ref>[^/]+)", re.S)),
)


def _route(
    kind: RouteKind,
    method: str,
    name: str | None = None,
    reference: str | None = None,
    session: str | None = None,
) -> Route:
    actions = _ACTIONS[kind]
    return Route(
        kind,
        method,
        name=name,
        reference=reference,
        session=session,
        action=actions.get(method),
        method_allowed=method in actions,
    )


def match_route(method: str, path: str) -> Route | None:
    """The route for ``method`` (upper case, as sent) and a decoded ``path`` without query.

    Returns None for a path that is no registry route (answer 404). A known path with a method
    it does not allow gives a ``Route`` with ``method_allowed=False`` and ``action=None``.
    """
    if path in ("/v2", "/v2/"):
        return _route(RouteKind.BASE, method)
    if not path.startswith("/v2/"):
        return None
    rest = path[4:]
    if rest == "_catalog":
        return _route(RouteKind.CATALOG, method)
    best: tuple[RouteKind, re.Match[str]] | None = None
    for kind, pattern in _PATTERNS:
        match = pattern.fullmatch(rest)
        if match and (best is None or match.end("name") > best[1].end("name")):
            best = (kind, match)
    if best is None:
        return None
    kind, match = best
    groups = match.groupdict()
    return _route(kind, method, groups["name"], groups.get("ref"), groups.get("session"))
