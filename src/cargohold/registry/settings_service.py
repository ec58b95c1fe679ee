"""Package settings as one call each: visibility, link, inheritance, both access lists.

GHCR offers these only in its web UI; cargohold offers them to the CLI, the REST API and the web
UI through this service. Each change is one transaction. When ``by`` names the identity acting
(REST API, web UI), the change is authorized in that same transaction: it needs admin on the
package (``Action.ADMIN``), audited like every decision. ``by=None`` is the local operator (the
CLI on the data directory), who is trusted.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from cargohold.audit.log import AuditEntry
from cargohold.authz.model import Identity, Role, Visibility
from cargohold.db.raw import Reader
from cargohold.db.runner import Database
from cargohold.registry import package_settings as ps
from cargohold.registry.guard import authorize_admin
from cargohold.registry.package_settings import PackageSettings


class PackageSettingsService:
    def __init__(self, db: Database, *, base_url: str, audit: Callable[[AuditEntry], None]) -> None:
        self._db = db
        self._base_url = base_url
        self._audit = audit

    async def describe(self, name: str, *, by: Identity | None = None) -> PackageSettings:
        return await self._change(name, by, None)

    async def set_visibility(
        self, name: str, visibility: Visibility, *, by: Identity | None = None
    ) -> PackageSettings:
        return await self._change(name, by, lambda c: ps.set_visibility(c, name, visibility))

    async def link(
        self, name: str, repository: str | None, *, by: Identity | None = None
    ) -> PackageSettings:
        """Link to a live repository of the same owner (None unlinks); inheritance unchanged."""
        return await self._change(name, by, lambda c: ps.link(c, name, repository))

    async def set_inherit(
        self, name: str, on: bool, *, by: Identity | None = None
    ) -> PackageSettings:
        return await self._change(name, by, lambda c: ps.set_inherit(c, name, on))

    async def grant(
        self,
        name: str,
        role: Role,
        *,
        user: str | None = None,
        team: str | None = None,
        by: Identity | None = None,
    ) -> PackageSettings:
        """Manage access: give a user or (org packages only) a team a role."""
        return await self._change(name, by, lambda c: ps.grant(c, name, role, user=user, team=team))

    async def revoke_grant(
        self,
        name: str,
        *,
        user: str | None = None,
        team: str | None = None,
        by: Identity | None = None,
    ) -> PackageSettings:
        return await self._change(
            name, by, lambda c: ps.revoke_grant(c, name, user=user, team=team)
        )

    async def add_actions_access(
        self, name: str, repository: str, role: Role, *, by: Identity | None = None
    ) -> PackageSettings:
        """Manage Actions access: the live repository ``repository`` gets ``role``."""
        return await self._change(
            name, by, lambda c: ps.add_actions_access(c, name, repository, role)
        )

    async def remove_actions_access(
        self, name: str, repository: str, *, by: Identity | None = None
    ) -> PackageSettings:
        return await self._change(name, by, lambda c: ps.remove_actions_access(c, name, repository))

    async def _change(
        self, name: str, by: Identity | None, change: Callable[[Connection], None] | None
    ) -> PackageSettings:
        def run(conn: Connection) -> PackageSettings:
            authorize_admin(Reader.over(conn), by, name, base_url=self._base_url, audit=self._audit)
            if change is not None:
                change(conn)
            return ps.describe(conn, name)

        return await self._db.write(run)
