"""The web UI's pages over the package read model: package lists, the package page, the settings
page, the audit view, an organization's package settings.

``PackageViews`` answers each page with one call (one read transaction). Every answer is
authorized by the one ``decide()`` for the identity asking: a package it may not read (or a
deleted one) is reported as ``NotFoundError`` whether or not it exists (existence never leaks),
and the settings page shows its full contents only to those ``decide`` lets administer the
package; others get the package's name and who its admins are. Page views are reads, not
registry operations, so they are not written to the audit log (every change still is, by
``PackageSettingsService``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from cargohold.accounts.account_service import org_settings
from cargohold.audit.log import query as audit_query
from cargohold.authz.model import AccountKind, Action, Identity, PackageState
from cargohold.authz.service import state_for
from cargohold.db import schema as s
from cargohold.db.raw import Reader
from cargohold.db.runner import Database
from cargohold.errors import NotFoundError
from cargohold.registry import read_queries
from cargohold.registry.effective_access import admins, effective_access
from cargohold.registry.guard import permits
from cargohold.registry.package_settings import describe
from cargohold.registry.read_model import (
    OrgPackageSettings,
    OwnerPage,
    PackagePage,
    PackageView,
    SettingsPage,
)
from cargohold.registry.version_details import version_details
from cargohold.storage.protocol import BlobStore


class PackageViews:
    def __init__(self, db: Database, store: BlobStore, *, base_url: str) -> None:
        self._db = db
        self._store = store
        self._base_url = base_url

    async def home(self, identity: Identity) -> tuple[PackageView, ...]:
        """Every live package ``identity`` may read, most recently updated first."""
        return await self._db.write(lambda c: self._list(c, identity, None))

    async def owner(self, login: str, kind: AccountKind, identity: Identity) -> OwnerPage:
        """The live packages of the user or organization ``login`` that ``identity`` may read.

        ``kind`` is the URL's; a mismatch is ``NotFoundError``.
        """

        def run(conn: Connection) -> OwnerPage:
            found = read_queries.owner(conn, login)
            if found is None or found.kind is not kind:
                label = "organization" if kind is AccountKind.ORG else "user"
                raise NotFoundError(f"no {label} {login}")
            return OwnerPage(found, self._list(conn, identity, found.id))

        return await self._db.write(run)

    async def owner_kind(self, login: str) -> AccountKind:
        """The kind of an existing account; ``USER`` for an unknown one (a link to it then ends
        on the same "not found" page as any unreadable package)."""
        found = await self._db.write(lambda c: read_queries.owner(c, login))
        return AccountKind.USER if found is None else found.kind

    async def org_settings(self, org: str, identity: Identity) -> OrgPackageSettings:
        """The organization's package settings ("Package creation" and defaults), for its
        members and site admins; ``NotFoundError`` for anyone else."""
        a, m = s.accounts.c, s.org_members.c

        def run(conn: Connection) -> OrgPackageSettings:
            found = read_queries.owner(conn, org)
            p = identity.principal
            if (
                found is None
                or found.kind is not AccountKind.ORG
                or not (p.site_admin or found.id in p.org_roles)
            ):
                raise NotFoundError(f"no organization {org} that you are a member of")
            owners = conn.execute(
                select(a.login)
                .join_from(s.org_members, s.accounts, a.id == m.user_id)
                .where(m.org_id == found.id, m.role == "owner")
                .order_by(a.login)
            ).scalars()
            return OrgPackageSettings(
                settings=org_settings(conn, found.login),
                is_owner=p.org_roles.get(found.id) == "owner",
                owners=tuple(owners),
            )

        return await self._db.write(run)

    async def package(self, name: str, identity: Identity) -> PackagePage:
        """The package page; ``NotFoundError`` unless ``identity`` may read the package."""

        def run(conn: Connection) -> PackagePage:
            db = Reader.over(conn)
            state, view = self._readable(conn, name, identity)
            return PackagePage(
                package=view,
                versions=version_details(conn, self._store, view.id),
                can_admin=self._may(identity, Action.ADMIN, state),
                admins=admins(db, state),
            )

        return await self._db.write(run)

    async def settings(self, name: str, identity: Identity) -> SettingsPage:
        """The settings page: everything for an admin; the admins' names for other readers;
        ``NotFoundError`` for anyone who may not read the package."""

        def run(conn: Connection) -> SettingsPage:
            db = Reader.over(conn)
            state, view = self._readable(conn, name, identity)
            admin = self._may(identity, Action.ADMIN, state)
            return SettingsPage(
                package=view,
                can_admin=admin,
                admins=admins(db, state),
                settings=describe(conn, name) if admin else None,
                effective=tuple(effective_access(db, state)) if admin else None,
            )

        return await self._db.write(run)

    async def audit(
        self, name: str, identity: Identity, limit: int = 100
    ) -> tuple[SettingsPage, list[dict[str, Any]]]:
        """The package's audit log for its admins (others get the settings page and nothing)."""

        def run(conn: Connection) -> tuple[SettingsPage, list[dict[str, Any]]]:
            state, view = self._readable(conn, name, identity)
            admin = self._may(identity, Action.ADMIN, state)
            page = SettingsPage(view, can_admin=admin, admins=admins(Reader.over(conn), state))
            return page, audit_query(conn, name, limit) if admin else []

        return await self._db.write(run)

    # -- helpers --------------------------------------------------------------------------

    def _may(self, identity: Identity, action: Action, state: PackageState) -> bool:
        return state.exists and permits(identity, action, state, self._base_url)

    def _readable(
        self, conn: Connection, name: str, identity: Identity
    ) -> tuple[PackageState, PackageView]:
        state = state_for(Reader.over(conn), name)
        view = read_queries.package(conn, name) if state.exists else None
        # Missing, unreadable and soft-deleted: one answer, so existence never leaks.
        if not self._may(identity, Action.PULL, state) or view is None or view.deleted_at:
            raise NotFoundError(f"no package {name} that you can see")
        return state, view

    def _list(
        self, conn: Connection, identity: Identity, owner_id: int | None
    ) -> tuple[PackageView, ...]:
        found = read_queries.packages_of(conn, owner_id)
        readable = read_queries.visible(conn, found, identity, self._base_url)
        return tuple(sorted(readable, key=lambda v: v.updated_at, reverse=True))
