"""Packages as the registry's adapters see them: resolve the addressed one, create it on push."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Connection

from cargohold.db.raw import Reader
from cargohold.db.runner import Database
from cargohold.db.tx import now
from cargohold.errors import DeniedError, NameUnknownError
from cargohold.oci.names import split_owner
from cargohold.registry import lifecycle, packages
from cargohold.registry.values import Actor, PackageRef, Target


class PackageService:
    def __init__(self, db: Database, *, restore_window: timedelta = timedelta(days=30)) -> None:
        self._db = db
        self._window = restore_window

    def existing_id(self, target: Target) -> int:
        """The id of the addressed package, or NAME_UNKNOWN. Reads inline on the event loop."""
        state = target.state
        if state is not None:
            if state.exists and state.id is not None and not state.deleted:
                return state.id
            raise NameUnknownError(detail={"name": target.name})
        name = target.name
        row = self._db.read_on_loop(lambda r: packages.find(r, name))
        if row is None or row.deleted:
            raise NameUnknownError(detail={"name": name})
        return row.id

    async def for_push(self, target: Target, actor: Actor) -> PackageRef:
        """The addressed package, created when it is missing (the decision allowed the push).

        A created package records its publisher; one created by a job is linked to the job's
        repository, which gets admin in Actions access; one created otherwise may still be linked
        by its first image's source label (``ManifestService.put``).
        """
        state = target.state
        if state is not None and state.exists and state.id is not None and not state.deleted:
            return PackageRef(state.id, target.name)
        return await self._db.write(lambda c: _create(c, target, actor, self._window))


def _create(conn: Connection, target: Target, actor: Actor, window: timedelta) -> PackageRef:
    name = target.name
    state = target.state
    found = packages.find(Reader.over(conn), name)
    if found is not None and found.deleted:
        # The name of a deleted package stays reserved until it is purged.
        info = lifecycle.package_deleted(conn, found.id, window)
        assert info is not None
        raise DeniedError(
            lifecycle.reserved_message(name, info, now()),
            detail={"name": name, "deleted_at": info.deleted_at.isoformat()},
        )
    if found is not None:
        return PackageRef(found.id, name)
    if state is None:  # auth off: owner namespaces appear on demand
        owner = packages.ensure_owner(conn, split_owner(name)[0])
        return PackageRef(packages.create(conn, name, owner=owner).id, name, created=True)
    if state.owner.id == 0:
        raise NameUnknownError(
            f"no user or organization named {state.owner.login!r}; create it first",
            detail={"name": name},
        )
    job_repo = actor.repo_id
    row = packages.create(
        conn,
        name,
        owner=state.owner.id,
        visibility=state.owner.default_visibility.value,
        publisher_user_id=actor.user_id,
        publisher_repo_id=job_repo,
        linked_repo_id=job_repo,
        inherit=state.owner.inherit_default if job_repo is not None else False,
    )
    return PackageRef(row.id, name, created=True)
