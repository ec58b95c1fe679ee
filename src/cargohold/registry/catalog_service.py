"""The catalog: package names the caller may pull, filtered by the database.

Anonymous callers (and credentials that cannot read private packages) get one query over public
packages, with no decision per package. Everyone else gets the public packages plus those a
source of a role could reach (a superset, from one query); the pure decision has the last word
on each of those that is not public, so no rule is written twice.
"""

from __future__ import annotations

from typing import Any

from cargohold.authz.decide import Allowed, decide
from cargohold.authz.memo import StateMemo
from cargohold.authz.model import (
    READ_PACKAGES,
    WRITE_PACKAGES,
    Action,
    CredentialKind,
    Identity,
    PrincipalKind,
    Role,
    Visibility,
)
from cargohold.authz.service import state_for
from cargohold.db import queries as q
from cargohold.db.raw import Reader
from cargohold.db.runner import Database


class CatalogService:
    def __init__(self, db: Database, memo: StateMemo, *, base_url: str) -> None:
        self._db = db
        self._memo = memo
        self._base_url = base_url

    def page(self, identity: Identity | None, n: int, last: str | None) -> list[str]:
        """The next ``n`` names after ``last`` that ``identity`` may pull (None: auth is off,
        every name). Reads inline on the event loop."""
        return self._db.read_on_loop(lambda db: self._page(db, identity, n, last))

    def _page(self, db: Reader, identity: Identity | None, n: int, last: str | None) -> list[str]:
        if identity is None:
            return [r.name for r in db.all(q.CATALOG_PAGE, last=last or "", n=n)]
        self._memo.sync(db)
        out: list[str] = []
        cursor = last or ""
        while len(out) < n:
            batch = self._candidates(db, identity, n, cursor)
            if not batch:
                break
            for row in batch:
                if row.visibility == Visibility.PUBLIC or self._may_pull(db, identity, row.name):
                    out.append(row.name)
                    if len(out) == n:
                        break
            cursor = batch[-1].name
        return out

    def _candidates(self, db: Reader, identity: Identity, n: int, last: str) -> list[Any]:
        principal = identity.principal
        public = Visibility.PUBLIC.value
        if not _may_read_private(identity):
            return db.all(q.CATALOG_PUBLIC, last=last, n=n, public=public)
        if principal.kind is PrincipalKind.USER and principal.user_id is not None:
            if principal.site_admin:
                return db.all(q.CATALOG_PAGE, last=last, n=n)
            return db.all(q.CATALOG_FOR_USER, last=last, n=n, uid=principal.user_id, public=public)
        if principal.kind is PrincipalKind.REPOSITORY and principal.repo is not None:
            repo = principal.repo
            return db.all(
                q.CATALOG_FOR_REPOSITORY,
                last=last,
                n=n,
                rid=repo.id,
                owner=repo.owner_id,
                public=public,
            )
        return db.all(q.CATALOG_PUBLIC, last=last, n=n, public=public)

    def _may_pull(self, db: Reader, identity: Identity, name: str) -> bool:
        state = state_for(db, name, self._memo)
        verdict = decide(
            identity.principal, identity.credential, Action.PULL, state, base_url=self._base_url
        )
        return isinstance(verdict, Allowed)


def _may_read_private(identity: Identity) -> bool:
    """Whether the credential could read any package that is not public (the token gate)."""
    credential = identity.credential
    if identity.principal.kind is PrincipalKind.ANONYMOUS:
        return False
    if credential.kind is CredentialKind.NONE:
        return False
    if credential.kind is CredentialKind.PAT:
        return bool({READ_PACKAGES, WRITE_PACKAGES} & credential.scopes)
    if credential.kind is CredentialKind.JOB:
        return credential.packages >= Role.READ
    return True
