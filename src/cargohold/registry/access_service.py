"""Explaining access: the effective role of a user or a repository's jobs, and its sources."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from cargohold.accounts import service
from cargohold.accounts.credentials import load_user_principal
from cargohold.authz.decide import Source, effective_role
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
