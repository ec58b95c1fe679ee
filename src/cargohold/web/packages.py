"""Resolving the package a request addresses, and creating it on first push."""

from __future__ import annotations

from sqlalchemy import Connection

from cargohold.authz.model import PrincipalKind
from cargohold.db.raw import Reader
from cargohold.errors import NameUnknownError
from cargohold.oci.names import split_owner
from cargohold.registry import packages
from cargohold.web.pipeline import Ctx


async def existing_id(ctx: Ctx) -> int:
    """The id of the addressed package, or NAME_UNKNOWN."""
    state = ctx.package
    if state is not None:
        if state.exists and state.id is not None:
            return state.id
        raise NameUnknownError(detail={"name": ctx.name})
    name = ctx.name
    row = ctx.services.fast(lambda r: packages.find(r, name))
    if row is None:
        raise NameUnknownError(detail={"name": name})
    return row.id


async def id_for_push(ctx: Ctx) -> int:
    """The id of the addressed package, creating it when the decision said this push creates it."""
    state = ctx.package
    if state is not None and state.exists and state.id is not None:
        return state.id
    return await ctx.services.write(lambda c: _create(c, ctx))


def _create(conn: Connection, ctx: Ctx) -> int:
    name = ctx.name
    state = ctx.package
    if state is None:  # auth off: owner namespaces appear on demand
        found = packages.find(Reader.over(conn), name)
        if found is not None:
            return found.id
        owner = packages.ensure_owner(conn, split_owner(name)[0])
        return packages.create(conn, name, owner=owner).id
    if state.owner.id == 0:
        raise NameUnknownError(
            f"no user or organization named {state.owner.login!r}; create it first",
            detail={"name": name},
        )
    principal = ctx.identity.principal
    job_repo = principal.repo if principal.kind is PrincipalKind.REPOSITORY else None
    return packages.create(
        conn,
        name,
        owner=state.owner.id,
        visibility=state.owner.default_visibility.value,
        publisher_user_id=principal.user_id,
        publisher_repo_id=job_repo.id if job_repo else None,
        linked_repo_id=job_repo.id if job_repo else None,
        inherit=state.owner.inherit_default if job_repo else False,
    ).id
