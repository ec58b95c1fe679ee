"""The security suite: one test per finding of an adversarial review, each of which failed
before its fix. Functional style (the app in-process, SQLite and PostgreSQL)."""

from __future__ import annotations

from support.fixtures import db_url, make_registry, registry, secured

__all__ = ["db_url", "make_registry", "registry", "secured"]
