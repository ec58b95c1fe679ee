"""Packages and versions for the management APIs: list, show, delete, restore.

Every call takes the acting identity ``by`` (None is the local operator on the data directory,
who is trusted) and authorizes it through the one decision in the same transaction: reads need
read (``Action.PULL``), delete and restore need package admin (``Action.DELETE``, which a PAT
also needs ``delete:packages`` for, as on GitHub). A caller who may not read a package gets
NOT_FOUND for it, existing or not. Deleted packages and versions are listed only on request
(``deleted=True``), to those who may delete them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Connection

from cargohold.audit.log import AuditEntry
from cargohold.authz.model import Action, Identity, Visibility
from cargohold.db.raw import Reader
from cargohold.db.runner import Database
from cargohold.db.tx import now
from cargohold.errors import NotFoundError
from cargohold.registry import lifecycle, read_queries
from cargohold.registry.guard import authorize_visible, not_found
from cargohold.registry.lifecycle import Purgeable
from cargohold.registry.read_model import PackageView, VersionView


class LifecycleService:
    def __init__(
        self,
        db: Database,
        *,
        base_url: str,
        audit: Callable[[AuditEntry], None],
        restore_window: timedelta,
    ) -> None:
        self._db = db
        self._base_url = base_url
        self._audit = audit
        self.restore_window = restore_window

    # -- authorization -------------------------------------------------------------------------

    def _allow(self, conn: Connection, by: Identity | None, action: Action, name: str) -> None:
        if by is not None:
            authorize_visible(
                Reader.over(conn), by, action, name, base_url=self._base_url, audit=self._audit
            )

    def _package(
        self, conn: Connection, name: str, by: Identity | None, action: Action, *, deleted: bool
    ) -> PackageView:
        self._allow(conn, by, action, name)
        view = read_queries.package(conn, name)
        if view is None or (view.deleted_at is not None) != deleted:
            raise not_found(name)
        return view

    # -- reads ---------------------------------------------------------------------------------

    async def list_packages(
        self,
        owner: str,
        *,
        by: Identity | None,
        visibility: Visibility | None = None,
        deleted: bool = False,
    ) -> list[PackageView]:
        """The packages of ``owner`` that ``by`` may read (deleted ones: may delete), by name.
        NOT_FOUND when there is no such user or organization."""

        def run(conn: Connection) -> list[PackageView]:
            account = read_queries.owner(conn, owner)
            if account is None:
                raise NotFoundError(f"no user or organization {owner!r}")
            found = [
                view
                for view in read_queries.packages_of(conn, account.id, deleted=deleted)
                if visibility is None or view.visibility is visibility
            ]
            action = Action.DELETE if deleted else Action.PULL
            return read_queries.visible(conn, found, by, self._base_url, action)

        return await self._db.write(run)

    async def get_package(self, name: str, *, by: Identity | None) -> PackageView:
        return await self._db.write(
            lambda c: self._package(c, name, by, Action.PULL, deleted=False)
        )

    async def list_versions(
        self, name: str, *, by: Identity | None, deleted: bool = False
    ) -> list[VersionView]:
        """Live versions (read), or deleted ones (package admin), newest first."""

        def run(conn: Connection) -> list[VersionView]:
            view = self._package(conn, name, by, Action.PULL, deleted=False)
            if deleted:
                self._allow(conn, by, Action.DELETE, name)
            return read_queries.versions(conn, view.id, deleted=deleted)

        return await self._db.write(run)

    async def get_version(self, name: str, version_id: int, *, by: Identity | None) -> VersionView:
        """A version by id, live (read) or deleted (package admin)."""

        def run(conn: Connection) -> VersionView:
            view = self._package(conn, name, by, Action.PULL, deleted=False)
            found = read_queries.version(conn, view.id, version_id)
            if found.deleted_at is not None:
                self._allow(conn, by, Action.DELETE, name)
            return found

        return await self._db.write(run)

    # -- changes -------------------------------------------------------------------------------

    async def delete_package(self, name: str, *, by: Identity | None) -> None:
        """Soft-delete a live package (restorable for the window; name reserved)."""

        def run(conn: Connection) -> None:
            view = self._package(conn, name, by, Action.DELETE, deleted=False)
            lifecycle.delete_package(conn, view.id, _who(by), now())

        await self._db.write(run)

    async def restore_package(self, name: str, *, by: Identity | None) -> PackageView:
        def run(conn: Connection) -> PackageView:
            view = self._package(conn, name, by, Action.DELETE, deleted=True)
            lifecycle.restore_package(conn, view.id, self.restore_window, now())
            restored = read_queries.package(conn, name)
            assert restored is not None
            return restored

        return await self._db.write(run)

    async def delete_version(self, name: str, version_id: int, *, by: Identity | None) -> None:
        def run(conn: Connection) -> None:
            view = self._package(conn, name, by, Action.DELETE, deleted=False)
            found = read_queries.version(conn, view.id, version_id)
            lifecycle.delete_version(conn, view.id, found.digest, _who(by), now())

        await self._db.write(run)

    async def restore_version(
        self, name: str, version_id: int, *, by: Identity | None
    ) -> VersionView:
        def run(conn: Connection) -> VersionView:
            view = self._package(conn, name, by, Action.DELETE, deleted=False)
            found = read_queries.version(conn, view.id, version_id)
            lifecycle.restore_version(conn, view.id, found.digest, self.restore_window, now())
            return read_queries.version(conn, view.id, version_id)

        return await self._db.write(run)

    # -- for the garbage collector -------------------------------------------------------------

    def purgeable(self, conn: Connection, as_of: datetime | None = None) -> Purgeable:
        """Deleted packages and versions whose restore window is over as of ``as_of`` (now)."""
        return lifecycle.purgeable(conn, as_of or now(), self.restore_window)


def _who(by: Identity | None) -> str:
    return "operator" if by is None else by.actor
