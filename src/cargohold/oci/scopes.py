"""Docker token-auth scopes: ``type:name:actions`` (distribution ``docs/spec/auth/scope.md``).

Examples: ``repository:acme/app:pull,push``, ``registry:catalog:*``,
``repository(plugin):acme/plug:pull`` (the resource class is accepted and dropped, as
distribution only checks the type). The name may contain ``:`` (``host:5000/x``), so the type is
split off the left and the actions off the right.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TYPE_RE = re.compile(r"\A([a-z0-9]+)(?:\([a-z0-9]+\))?\Z")
_ACTION_RE = re.compile(r"\A(?:\*|[a-z0-9]+(?:[_-][a-z0-9]+)*)\Z")


@dataclass(frozen=True)
class Scope:
    """One resource and the actions requested on (or granted for) it."""

    type: str
    name: str
    actions: frozenset[str]


def _parse_one(item: str) -> Scope | None:
    type_part, sep, rest = item.partition(":")
    name, sep2, actions_part = rest.rpartition(":")
    if not (sep and sep2 and name):
        return None
    type_match = _TYPE_RE.match(type_part)
    if not type_match:
        return None
    actions = frozenset(a for a in actions_part.split(",") if a)
    if not actions or not all(_ACTION_RE.match(a) for a in actions):
        return None
    return Scope(type_match.group(1), name, actions)


def parse_scopes(values: list[str]) -> tuple[Scope, ...]:
    """Parse ``scope`` query values, each holding one or more space-separated scopes.

    Invalid items (fewer than three parts, empty name, bad type, no or bad actions) are skipped,
    as a token server grants what it can. Scopes for the same ``(type, name)`` are merged into
    one with the union of actions, in order of first appearance.
    """
    merged: dict[tuple[str, str], frozenset[str]] = {}
    for value in values:
        for item in value.split():
            scope = _parse_one(item)
            if scope is None:
                continue
            key = (scope.type, scope.name)
            merged[key] = merged.get(key, frozenset()) | scope.actions
    return tuple(Scope(t, n, a) for (t, n), a in merged.items())


def format_scope(scope: Scope) -> str:
    """``type:name:a,b`` with the actions sorted, so equal scopes format identically."""
    return f"{scope.type}:{scope.name}:{','.join(sorted(scope.actions))}"


def covers(granted: tuple[Scope, ...], type: str, name: str, action: str) -> bool:
    """Whether ``granted`` allows ``action`` on ``type:name``.

    ``*`` covers every action. No action implies another: ``push`` does not imply ``pull``.
    """
    return any(
        s.type == type and s.name == name and (action in s.actions or "*" in s.actions)
        for s in granted
    )
