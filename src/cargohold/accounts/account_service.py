"""Users, organizations, teams, repositories and collaborators: one call (transaction) each.

The caller decides who may call (the local CLI is the operator; a REST API authorizes a site or
organization admin first). Raises ``NotFoundError`` / ``ConflictError`` / ``InvalidRequestError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict, Unpack

from sqlalchemy import Connection, select

from cargohold.accounts import service
from cargohold.authz.model import AccountKind, JobDefault, OrgRole, RepoRole, Visibility
from cargohold.db import schema as s
from cargohold.db.runner import Database


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    login: str
    kind: AccountKind
    site_admin: bool = False


@dataclass(frozen=True, slots=True)
class OrgSettings:
    """An organization's package settings."""

    org: str
    member_create_visibilities: frozenset[Visibility]
    default_visibility: Visibility
    inherit_default: bool
    default_job_permission: JobDefault


class OrgSettingsChange(TypedDict, total=False):
    """The organization settings a change names (the keywords of ``service.set_org_settings``)."""

    member_create_visibilities: frozenset[Visibility] | None
    default_visibility: Visibility | None
    inherit_default: bool | None
    default_job_permission: JobDefault | None


@dataclass(frozen=True, slots=True)
class Repository:
    id: int
    full_name: str
    visibility: Visibility
    deleted: bool = False


class AccountService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create_user(self, login: str, *, site_admin: bool = False) -> Account:
        uid = await self._db.write(
            lambda c: service.create_account(c, login, AccountKind.USER, site_admin=site_admin)
        )
        return Account(uid, login, AccountKind.USER, site_admin)

    async def create_org(self, login: str, owner: str) -> Account:
        """An organization whose first owner is the user ``owner``."""
        oid = await self._db.write(lambda c: service.create_org(c, login, owner))
        return Account(oid, login, AccountKind.ORG)

    async def add_org_member(self, org: str, user: str, role: OrgRole) -> None:
        """Add ``user`` to ``org`` with ``role``, or change their role."""
        await self._db.write(lambda c: service.add_member(c, org, user, role))

    async def set_org_settings(self, org: str, **change: Unpack[OrgSettingsChange]) -> OrgSettings:
        """Change the given settings (an absent or None one stays as it is); returns all."""
        return await self._db.write(lambda c: change_org_settings(c, org, **change))

    async def create_team(self, ref: str) -> int:
        """A team ``org/slug``; returns its id."""
        return await self._db.write(lambda c: service.create_team(c, ref))

    async def add_team_member(self, ref: str, user: str) -> None:
        await self._db.write(lambda c: service.add_team_member(c, ref, user))

    async def create_repo(self, ref: str, visibility: Visibility) -> Repository:
        rid = await self._db.write(lambda c: service.create_repo(c, ref, visibility))
        return Repository(rid, ref, visibility)

    async def delete_repo(self, ref: str) -> int:
        """Mark the live repository ``ref`` deleted (its id is never reused); returns the id."""
        return await self._db.write(lambda c: service.delete_repo(c, ref))

    async def add_collaborator(
        self, ref: str, role: RepoRole, *, user: str | None = None, team: str | None = None
    ) -> None:
        """Give a user or a team ``role`` on the repository ``ref``."""
        await self._db.write(lambda c: service.add_collaborator(c, ref, role, user=user, team=team))


def change_org_settings(
    conn: Connection, org: str, **change: Unpack[OrgSettingsChange]
) -> OrgSettings:
    """Change the organization's given settings (an absent or None one stays as it is) in the
    caller's transaction; returns all of them. NOT_FOUND when ``org`` is not an organization."""
    service.set_org_settings(conn, org, **change)
    return org_settings(conn, org)


def org_settings(conn: Connection, org: str) -> OrgSettings:
    """The settings of the existing account ``org`` (callers check it is an organization)."""
    a = s.accounts.c
    row = conn.execute(
        select(
            a.member_create_visibilities,
            a.default_visibility,
            a.inherit_default,
            a.default_job_permission,
        ).where(a.login == org)
    ).one()
    listed = row.member_create_visibilities
    return OrgSettings(
        org=org,
        member_create_visibilities=frozenset(Visibility(v) for v in listed.split(",") if v)
        if listed is not None
        else frozenset(Visibility),
        default_visibility=Visibility(row.default_visibility),
        inherit_default=bool(row.inherit_default),
        default_job_permission=JobDefault(row.default_job_permission),
    )
