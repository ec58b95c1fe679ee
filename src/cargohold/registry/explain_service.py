"""Effective access (``why``) and the audit log, for an acting identity.

Both reveal who holds what, so both need package admin (the audit log of everything: a site
administrator); a caller who may not read the package gets NOT_FOUND, as everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from cargohold.accounts.admin_service import require_site_admin
from cargohold.audit.log import AuditEntry
from cargohold.authz.model import Identity
from cargohold.db import schema as s
from cargohold.db.raw import Reader
from cargohold.db.runner import Database
from cargohold.db.tx import aware
from cargohold.errors import InvalidRequestError
from cargohold.registry.access_service import Why, _why
from cargohold.registry.guard import authorize_admin


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which audit entries to list, newest first: at most ``limit`` with id below ``before``."""

    package: str | None = None
    actor: str | None = None
    decision: str | None = None  # "allowed" | "denied"
    since: datetime | None = None
    until: datetime | None = None
    before: int | None = None
    limit: int = 50


class ExplainService:
    def __init__(self, db: Database, *, base_url: str, audit: Callable[[AuditEntry], None]) -> None:
        self._db = db
        self._base_url = base_url
        self._audit = audit

    def _admin(self, conn: Connection, by: Identity | None, name: str) -> None:
        authorize_admin(Reader.over(conn), by, name, base_url=self._base_url, audit=self._audit)

    async def why(
        self,
        name: str,
        *,
        user: str | None = None,
        repository: str | None = None,
        by: Identity | None,
    ) -> Why:
        """Effective role of ``user`` or ``repository``'s jobs on ``name``, with its sources."""
        if (user is None) == (repository is None):
            raise InvalidRequestError("give exactly one of user or repository")

        def run(conn: Connection) -> Why:
            self._admin(conn, by, name)
            return _why(conn, name, user, repository)

        return await self._db.write(run)

    async def audit(self, query: AuditFilter, *, by: Identity | None) -> list[dict[str, Any]]:
        """Audit entries matching ``query``: one package (its admins), or all (site admins)."""
        if query.decision not in (None, "allowed", "denied"):
            raise InvalidRequestError('decision must be "allowed" or "denied"')
        if not 1 <= query.limit <= 1000:
            raise InvalidRequestError("limit must be between 1 and 1000")

        def run(conn: Connection) -> list[dict[str, Any]]:
            if query.package is not None:
                self._admin(conn, by, query.package)
            elif by is not None:
                require_site_admin(by, write=False)
            return _entries(conn, query)

        return await self._db.write(run)


def _entries(conn: Connection, q: AuditFilter) -> list[dict[str, Any]]:
    t = s.audit_log.c
    stmt = select(s.audit_log).order_by(t.id.desc()).limit(q.limit)
    if q.package is not None:
        stmt = stmt.where(t.package == q.package)
    if q.actor is not None:
        stmt = stmt.where(t.actor == q.actor)
    if q.decision is not None:
        stmt = stmt.where(t.result == q.decision)
    if q.since is not None:
        stmt = stmt.where(t.at >= q.since)
    if q.until is not None:
        stmt = stmt.where(t.at < q.until)
    if q.before is not None:
        stmt = stmt.where(t.id < q.before)
    out = []
    for row in conn.execute(stmt):
        item = dict(row._mapping)
        at = aware(item["at"])
        item["at"] = at.isoformat() if at is not None else None
        out.append(item)
    return out
