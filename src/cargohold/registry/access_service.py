"""Explaining access: the effective role of a user or a repository's jobs, and its sources."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from cargohold.accounts import service
from cargohold.accounts.credentials import load_user_principal
from cargohold.authz.decide import Source, effective_role, may_create
from cargohold.authz.model import AccountKind, Principal, PrincipalKind, RepoRef, Role
from cargohold.authz.service import state_for
from cargohold.db import schema as s
from cargohold.db.raw import Reader
from cargohold.db.runner import Database
from cargohold.errors import InvalidRequestError, NotFoundError


@dataclass(frozen=True, slots=True)
class Why:
    package: str
    exists: bool
    who: str
    role: Role
    sources: tuple[Source, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "package": self.package,
            "exists": self.exists,
            "who": self.who,
            "role": self.role.label,
            "sources": [
                {"kind": x.kind, "role": x.role.label, "why": x.description} for x in self.sources
            ],
        }


@dataclass(frozen=True, slots=True)
class JobOutlook:
    """What a repository's job tokens may do with a package, before any job runs.

    ``role`` and ``sources`` are the role gate's view (no token narrowing); ``may_create`` says
    whether a first push by those jobs may create the package; ``owner_default`` is the
    repository owner's default job permission (``None`` when the repository is unknown). An
    unknown repository looks like one without a role, so a caller learns nothing about other
    owners' private repositories.
    """

    package: str
    exists: bool
    repository: str
    role: Role
    sources: tuple[Source, ...]
    may_create: bool
    owner_default: str | None

    def as_dict(self) -> dict[str, object]:
        return {
            "package": self.package,
            "exists": self.exists,
            "repository": self.repository,
            "role": self.role.label,
            "sources": [
                {"kind": x.kind, "role": x.role.label, "why": x.description} for x in self.sources
            ],
            "may_create": self.may_create,
            "owner_default_job_permission": self.owner_default,
        }


class AccessService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def why(
        self, package: str, *, user: str | None = None, repository: str | None = None
    ) -> Why:
        """Effective role of ``user`` or of ``repository``'s jobs on ``package`` (no token
        narrowing), with every source of it. Exactly one of ``user``/``repository``."""
        if (user is None) == (repository is None):
            raise InvalidRequestError("give exactly one of --user or --repository")
        return await self._db.write(lambda c: _why(c, package, user, repository))

    async def job_outlook(self, package: str, repository: str) -> JobOutlook:
        """The effective role of ``repository``'s jobs on ``package`` and whether they may
        create it (``workflow lint``'s question). The caller has authorized the read."""
        return await self._db.write(lambda c: _outlook(c, package, repository))


def _why(conn: Connection, name: str, user: str | None, repository: str | None) -> Why:
    db = Reader.over(conn)
    principal: Principal | None
    if user is not None:
        uid = service.require_account(conn, user, AccountKind.USER)
        principal = load_user_principal(db, uid)
        if principal is None:
            raise NotFoundError(f"no user {user!r}")
        who = f"user {user}"
    else:
        assert repository is not None
        rid = service.repo_id(conn, repository)
        owner_id = conn.execute(
            select(s.repositories.c.owner_id).where(s.repositories.c.id == rid)
        ).scalar_one()
        principal = Principal(PrincipalKind.REPOSITORY, repo=RepoRef(rid, repository, owner_id))
        who = f"repository {repository} (id {rid})"
    state = state_for(db, name)
    role, sources = effective_role(principal, state)
    return Why(name, state.exists, who, role, tuple(sources))


def _outlook(conn: Connection, name: str, repository: str) -> JobOutlook:
    db = Reader.over(conn)
    owner, sep, repo_name = repository.partition("/")
    if not sep or not owner or not repo_name or "/" in repo_name:
        raise InvalidRequestError("repository must be OWNER/NAME")
    state = state_for(db, name)
    row = conn.execute(
        select(s.repositories.c.id, s.repositories.c.owner_id, s.accounts.c.default_job_permission)
        .join(s.accounts, s.accounts.c.id == s.repositories.c.owner_id)
        .where(
            s.accounts.c.login == owner,
            s.repositories.c.name == repo_name,
            s.repositories.c.deleted_at.is_(None),
        )
    ).one_or_none()
    if row is None:
        return JobOutlook(name, state.exists, repository, Role.NONE, (), False, None)
    principal = Principal(PrincipalKind.REPOSITORY, repo=RepoRef(row.id, repository, row.owner_id))
    role, sources = effective_role(principal, state)
    creatable = not state.exists and may_create(principal, state)
    default = row.default_job_permission
    return JobOutlook(
        name,
        state.exists,
        repository,
        role,
        tuple(sources),
        creatable,
        None if default is None else str(default),
    )
