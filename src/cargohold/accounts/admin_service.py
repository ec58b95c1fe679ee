"""Administration for an acting identity: accounts, organizations, teams, repositories,
collaborators, tokens and runners, each authorized in its own transaction.

Who may do what (the REST API's rule; the local CLI is the trusted operator and uses
``AccountService`` / ``TokenService`` directly):

    site administrator      anything below; create users, organizations, runners; every token's
                            metadata (never a secret)
    organization owner      members, teams, repositories and collaborators of the org, its
                            package settings
    a user                  their own repositories and collaborators, their own tokens

Only a person administers: a job token never does (it is its repository, not a person). A PAT
that changes anything needs ``write:packages`` (cargohold has no admin scope; tokens only narrow,
so a read-only token never changes anything). Refusals say who, what was held, what is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Unpack

from sqlalchemy import Connection, select, update

from cargohold.accounts import credentials, passwords, service
from cargohold.accounts.account_service import (
    Account,
    OrgSettings,
    OrgSettingsChange,
    Repository,
    change_org_settings,
    org_settings,
)
from cargohold.accounts.token_service import NewSecret, TokenInfo, TokenService
from cargohold.authz.model import (
    AccountKind,
    CredentialKind,
    Identity,
    OrgRole,
    PatScope,
    PrincipalKind,
    RepoRole,
    Visibility,
)
from cargohold.db import schema as s
from cargohold.db.runner import Database
from cargohold.errors import DeniedError, InvalidRequestError, NotFoundError, UnauthorizedError


@dataclass(frozen=True, slots=True)
class Member:
    login: str
    id: int
    role: OrgRole


def _refuse(by: Identity, needed: str, fix: str) -> DeniedError:
    return DeniedError(
        f"denied: {by.actor} may not do this; it needs {needed}. {fix}",
        detail={"who": by.actor, "held": _held(by), "needed": needed, "fix": [fix]},
    )


def _held(by: Identity) -> str:
    p = by.principal
    if p.kind is not PrincipalKind.USER:
        return f"{by.credential.kind.value} credential"
    roles = "site administrator" if p.site_admin else "user"
    return f"{roles} with a {by.credential.kind.value} credential"


def require_person(by: Identity, *, write: bool) -> int:
    """The acting user's id; refuses anonymous callers, job tokens and read-only PATs."""
    p = by.principal
    if p.kind is PrincipalKind.ANONYMOUS:
        raise UnauthorizedError("Requires authentication", detail={"fix": ["send a PAT"]})
    if p.kind is not PrincipalKind.USER or p.user_id is None:
        raise _refuse(by, "a person (PAT or session)", "use a personal access token")
    if (
        write
        and by.credential.kind is CredentialKind.PAT
        and PatScope.WRITE_PACKAGES not in by.credential.scopes
    ):
        raise _refuse(
            by,
            "a token with write:packages",
            "create a token with write:packages for administration",
        )
    return p.user_id


def require_site_admin(by: Identity, *, write: bool = True) -> None:
    require_person(by, write=write)
    if not by.principal.site_admin:
        raise _refuse(by, "site administrator", "ask a site administrator")


def _is_org_owner(conn: Connection, by: Identity, org_id: int) -> bool:
    if by.principal.site_admin:
        return True
    m = s.org_members.c
    role = conn.execute(
        select(m.role).where(m.org_id == org_id, m.user_id == by.principal.user_id)
    ).scalar()
    return role == OrgRole.OWNER.value


def require_owner_admin(conn: Connection, by: Identity, owner: str, *, write: bool = True) -> int:
    """``by`` administers the namespace ``owner``: it is them, or they own the org (or are a
    site admin). Returns the owner's account id. (Accounts are public, as on GitHub: an
    outsider is refused with the explanation, not hidden.)"""
    uid = require_person(by, write=write)
    owner_id = service.account_id(conn, owner)
    if owner_id is None:
        raise NotFoundError(f"no user or organization {owner!r}")
    if owner_id == uid or by.principal.site_admin:
        return owner_id
    kind = conn.execute(select(s.accounts.c.kind).where(s.accounts.c.id == owner_id)).scalar()
    if kind == AccountKind.ORG.value and _is_org_owner(conn, by, owner_id):
        return owner_id
    raise _refuse(by, f"owner of {owner}", f"ask an owner of {owner}")


class AdminService:
    def __init__(self, db: Database, tokens: TokenService) -> None:
        self._db = db
        self._tokens = tokens

    async def whoami(self, by: Identity) -> Account:
        require_person(by, write=False)
        p = by.principal
        assert p.user_id is not None and p.login is not None
        return Account(p.user_id, p.login, AccountKind.USER, p.site_admin)

    async def account(self, login: str, by: Identity) -> Account:
        """A user or organization by login (any signed-in person may look one up)."""
        require_person(by, write=False)

        def run(conn: Connection) -> Account:
            a = s.accounts.c
            row = conn.execute(
                select(a.id, a.login, a.kind, a.site_admin).where(a.login == login)
            ).first()
            if row is None:
                raise NotFoundError(f"no user or organization {login!r}")
            return Account(row.id, row.login, AccountKind(row.kind), bool(row.site_admin))

        return await self._db.write(run)

    async def create_user(
        self, login: str, *, site_admin: bool, by: Identity, password: str | None = None
    ) -> Account:
        """Create a user (site admins only), with a web sign-in password when one is given:
        checked against the policy and hashed (argon2id) before anything is written."""
        require_site_admin(by)
        hashed: str | None = None
        if password is not None:
            why = passwords.check_policy(password)
            if why is not None:
                raise InvalidRequestError(why)
            hashed = passwords.hash_password(password)

        def create(conn: Connection) -> int:
            uid = service.create_account(conn, login, AccountKind.USER, site_admin=site_admin)
            if hashed is not None:
                conn.execute(
                    update(s.accounts).where(s.accounts.c.id == uid).values(password_hash=hashed)
                )
            return uid

        uid = await self._db.write(create)
        return Account(uid, login, AccountKind.USER, site_admin)

    async def create_org(self, login: str, owner: str, *, by: Identity) -> Account:
        require_site_admin(by)
        oid = await self._db.write(lambda c: service.create_org(c, login, owner))
        return Account(oid, login, AccountKind.ORG)

    async def members(self, org: str, *, by: Identity) -> list[Member]:
        def run(conn: Connection) -> list[Member]:
            oid = require_owner_admin(conn, by, org, write=False)
            m, a = s.org_members.c, s.accounts.c
            rows = conn.execute(
                select(a.login, a.id, m.role)
                .join_from(s.org_members, s.accounts, a.id == m.user_id)
                .where(m.org_id == oid)
                .order_by(a.login)
            )
            return [Member(r.login, r.id, OrgRole(r.role)) for r in rows]

        return await self._db.write(run)

    async def set_member(self, org: str, user: str, role: OrgRole, *, by: Identity) -> None:
        def run(conn: Connection) -> None:
            require_owner_admin(conn, by, org)
            service.add_member(conn, org, user, role)

        await self._db.write(run)

    async def remove_member(self, org: str, user: str, *, by: Identity) -> None:
        def run(conn: Connection) -> None:
            oid = require_owner_admin(conn, by, org)
            uid = service.require_account(conn, user, AccountKind.USER)
            m = s.org_members.c
            gone = conn.execute(
                s.org_members.delete().where(m.org_id == oid, m.user_id == uid)
            ).rowcount
            if not gone:
                raise NotFoundError(f"{user} is not a member of {org}")

        await self._db.write(run)

    async def create_team(self, org: str, slug: str, *, by: Identity) -> int:
        def run(conn: Connection) -> int:
            require_owner_admin(conn, by, org)
            return service.create_team(conn, f"{org}/{slug}")

        return await self._db.write(run)

    async def add_team_member(self, org: str, slug: str, user: str, *, by: Identity) -> None:
        def run(conn: Connection) -> None:
            require_owner_admin(conn, by, org)
            service.add_team_member(conn, f"{org}/{slug}", user)

        await self._db.write(run)

    async def create_repo(
        self, owner: str, name: str, visibility: Visibility, *, by: Identity
    ) -> Repository:
        def run(conn: Connection) -> Repository:
            require_owner_admin(conn, by, owner)
            rid = service.create_repo(conn, f"{owner}/{name}", visibility)
            return Repository(rid, f"{owner}/{name}", visibility)

        return await self._db.write(run)

    async def delete_repo(self, owner: str, name: str, *, by: Identity) -> None:
        def run(conn: Connection) -> None:
            require_owner_admin(conn, by, owner)
            service.delete_repo(conn, f"{owner}/{name}")

        await self._db.write(run)

    async def set_collaborator(
        self,
        owner: str,
        name: str,
        role: RepoRole,
        *,
        user: str | None = None,
        team: str | None = None,
        by: Identity,
    ) -> None:
        def run(conn: Connection) -> None:
            require_owner_admin(conn, by, owner)
            service.add_collaborator(conn, f"{owner}/{name}", role, user=user, team=team)

        await self._db.write(run)

    async def org_settings(self, org: str, *, by: Identity) -> OrgSettings:
        def run(conn: Connection) -> OrgSettings:
            require_owner_admin(conn, by, org, write=False)
            service.require_account(conn, org, AccountKind.ORG)
            return org_settings(conn, org)

        return await self._db.write(run)

    async def set_org_settings(
        self, org: str, *, by: Identity, **change: Unpack[OrgSettingsChange]
    ) -> OrgSettings:
        """``AccountService.set_org_settings`` for an owner of ``org`` (or a site admin)."""

        def run(conn: Connection) -> OrgSettings:
            require_owner_admin(conn, by, org)
            return change_org_settings(conn, org, **change)

        return await self._db.write(run)

    # -- tokens --------------------------------------------------------------------------------

    async def create_own_pat(
        self,
        scopes: frozenset[PatScope],
        *,
        expires_in: timedelta | None,
        name: str | None,
        by: Identity,
    ) -> NewSecret:
        """A new PAT for the acting user. A PAT can only mint a token with at most its own
        scopes (tokens only narrow)."""
        require_person(by, write=False)
        if by.credential.kind is CredentialKind.PAT and not scopes <= by.credential.scopes:
            extra = ", ".join(sorted(scopes - by.credential.scopes))
            raise _refuse(
                by, f"a token holding {extra}", "sign in with a token holding those scopes"
            )
        assert by.principal.login is not None
        return await self._tokens.create_pat(
            by.principal.login, scopes, expires_in=expires_in, name=name
        )

    async def own_tokens(self, *, by: Identity) -> list[TokenInfo]:
        require_person(by, write=False)
        assert by.principal.login is not None
        return await self._tokens.list(by.principal.login)

    async def revoke_own(self, token_id: str, *, by: Identity) -> None:
        """Revoke one of the acting user's tokens (another's: NOT_FOUND, so ids are not probed)."""
        uid = require_person(by, write=False)

        def run(conn: Connection) -> None:
            c = s.credentials.c
            owner = conn.execute(select(c.user_id).where(c.id == token_id)).first()
            if owner is None or owner.user_id != uid:
                raise NotFoundError(f"no token {token_id!r}")
            credentials.revoke(conn, token_id)

        await self._db.write(run)

    async def all_tokens(self, user: str | None, *, by: Identity) -> list[TokenInfo]:
        """Every credential's metadata (never a secret or its hash): site administrators."""
        require_site_admin(by, write=False)
        return await self._tokens.list(user)

    async def revoke_any(self, token_id: str, *, by: Identity) -> None:
        require_site_admin(by)
        await self._tokens.revoke(token_id)

    async def create_runner(self, name: str, serves: tuple[str, ...], *, by: Identity) -> NewSecret:
        require_site_admin(by)
        return await self._tokens.create_runner(name, serves)
