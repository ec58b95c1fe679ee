"""Functional tests: drive the aiohttp app in-process, on SQLite and on PostgreSQL.

``registry`` (auth off) and ``secured`` (auth on) give a ``Registry`` handle: an aiohttp test
client plus the services (engine, store), so tests can check that the store is unchanged after
bad input, and create users and tokens through the same domain services the CLI uses.
"""

from __future__ import annotations

from support.fixtures import db_url, make_registry, registry, secured

__all__ = ["db_url", "make_registry", "registry", "secured"]
