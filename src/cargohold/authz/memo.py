"""A per-process memo of authorization state, valid for exactly one ``authz_version``.

Every table the decision reads (accounts, memberships, teams, repositories and collaborators,
packages and both access lists, credentials) has database triggers that bump the single row of
``authz_version`` in the same transaction as the change, whoever makes it: this server, another
replica, the local CLI, or plain SQL. A request reads the version inside its read transaction;
if it differs from the memo's, the memo is emptied. So a grant or a revocation is seen on the
very next request of every process, while an unchanged state costs one indexed read instead of
half a dozen. Time-based checks (token expiry) are made on every use, never memoised.
"""

from __future__ import annotations

from typing import Generic, TypeVar, cast

from cargohold.db.queries import AUTHZ_VERSION
from cargohold.db.raw import Reader

T = TypeVar("T")


class Slot(Generic[T]):
    """A kind of memoised value (credential lookups, package states, decisions), typed."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class StateMemo:
    """Memoised credential lookups and package states for the current ``authz_version``.

    Used from the event-loop thread only (like ``ReadConnection``).
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._version: int | None = None
        self._entries: dict[tuple[str, str], object] = {}

    def sync(self, db: Reader) -> None:
        """Read the current version in ``db``'s transaction; forget everything if it moved."""
        version = db.scalar(AUTHZ_VERSION)
        if version != self._version or version is None:
            self._entries.clear()
            self._version = version

    def get(self, slot: Slot[T], key: str) -> T | None:
        # Only ``put`` writes entries, and it takes a value of the slot's type.
        return cast("T | None", self._entries.get((slot.name, key)))

    def put(self, slot: Slot[T], key: str, value: T) -> None:
        if self._version is None:
            return  # never synced in this transaction: do not memoise
        if len(self._entries) >= self._capacity:
            del self._entries[next(iter(self._entries))]
        self._entries[(slot.name, key)] = value
