"""Credentials as one call each: personal access tokens, runners, job tokens.

A created secret is returned once (``NewSecret``) and never stored. The runner API's calls
(``mint_job_token``/``revoke_job_token`` with a runner) are audited, allowed or refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, select

from cargohold.accounts import credentials, jobs, service
from cargohold.accounts.secrets import Keys
from cargohold.audit.log import AuditEntry
from cargohold.authz.model import AccountKind, PatScope
from cargohold.db import schema as s
from cargohold.db.runner import Database
from cargohold.db.tx import aware, now
from cargohold.errors import CargoholdError, InvalidRequestError


@dataclass(frozen=True, slots=True)
class NewSecret:
    """A credential just made: its public id and the secret, shown this once."""

    id: str
    secret: str


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A credential as listed (never its secret or hash)."""

    id: str
    kind: str
    name: str | None
    scopes: str
    permissions: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    user_id: int | None
    repo_id: int | None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for key in self.__slots__:
            value = getattr(self, key)
            out[key] = value.isoformat() if isinstance(value, datetime) else value
        return out


@dataclass(frozen=True, slots=True)
class JobTokenRequest:
    """What a CI system asks for: ``permissions`` None means the job has no block."""

    repository: str
    permissions: Mapping[str, str] | None = None
    ttl: timedelta | None = None
    run_id: str | None = None
    fork: bool = False


class TokenService:
    def __init__(
        self,
        db: Database,
        keys: Keys,
        *,
        job_ttl: timedelta,
        job_max_ttl: timedelta,
        audit: Callable[[AuditEntry], None],
    ) -> None:
        self._db = db
        self._keys = keys
        self._job_ttl = job_ttl
        self._job_max_ttl = job_max_ttl
        self._audit = audit

    async def create_pat(
        self,
        user: str,
        scopes: frozenset[PatScope],
        *,
        expires_in: timedelta | None = None,
        name: str | None = None,
    ) -> NewSecret:
        """A personal access token; ``expires_in`` None never expires, else it must be > 0."""
        if not scopes:
            raise InvalidRequestError("a token needs at least one scope")
        if expires_in is not None and expires_in <= timedelta(0):
            raise InvalidRequestError("the expiry must be a positive duration")
        keys = self._keys

        def make(conn: Connection) -> NewSecret:
            uid = service.require_account(conn, user, AccountKind.USER)
            return NewSecret(*credentials.create_pat(conn, keys, uid, scopes, expires_in, name))

        return await self._db.write(make)

    async def revoke(self, token_id: str) -> None:
        """Revoke a live token of any kind (the operator)."""
        await self._db.write(lambda c: credentials.revoke(c, token_id))

    async def list(self, user: str | None = None) -> list[TokenInfo]:
        """Every credential (of ``user``), oldest first."""

        def rows(conn: Connection) -> list[TokenInfo]:
            c = s.credentials.c
            query = select(
                c.id, c.kind, c.name, c.scopes, c.permissions, c.created_at, c.expires_at,
                c.revoked_at, c.last_used_at, c.user_id, c.repo_id,
            )  # fmt: skip
            if user is not None:
                query = query.where(
                    c.user_id == service.require_account(conn, user, AccountKind.USER)
                )
            return [
                TokenInfo(
                    id=r.id,
                    kind=r.kind,
                    name=r.name,
                    scopes=r.scopes,
                    permissions=r.permissions,
                    created_at=aware(r.created_at) or now(),
                    expires_at=aware(r.expires_at),
                    revoked_at=aware(r.revoked_at),
                    last_used_at=aware(r.last_used_at),
                    user_id=r.user_id,
                    repo_id=r.repo_id,
                )
                for r in conn.execute(query.order_by(c.created_at))
            ]

        return await self._db.write(rows)

    async def create_runner(self, name: str, serves: tuple[str, ...]) -> NewSecret:
        """A runner credential serving owners (``acme``) or repositories (``acme/shop``)."""
        keys = self._keys
        made = await self._db.write(lambda c: credentials.create_runner(c, keys, name, serves))
        return NewSecret(*made)

    async def runner_serve(self, runner_id: str, target: str) -> None:
        """Let a runner serve one more owner or repository."""
        await self._db.write(lambda c: credentials.add_runner_scope(c, runner_id, target))

    def authenticate_runner(self, secret: str) -> str:
        """A runner secret -> its id, or 401. Reads inline on the event loop."""
        keys = self._keys
        return self._db.read_on_loop(lambda r: credentials.authenticate_runner(r, keys, secret))

    async def mint_job_token(
        self, request: JobTokenRequest, *, runner_id: str | None = None
    ) -> dict[str, object]:
        """A job token for ``request.repository``; ``runner_id`` None is the local operator.

        Returns ``{"id", "token", "repository", "permissions", "expires_at", "run_id"}``.
        """
        keys = self._keys
        ttl = self._job_ttl if request.ttl is None else request.ttl

        def make(conn: Connection) -> dict[str, object]:
            return jobs.mint(
                conn,
                keys,
                request.repository,
                request.permissions,
                ttl,
                max_ttl=self._job_max_ttl,
                run_id=request.run_id,
                fork=request.fork,
                runner_id=runner_id,
            )

        try:
            made = await self._db.write(make)
        except CargoholdError as err:
            self._record(runner_id, "mint_job_token", request.repository, err)
            raise
        self._record(runner_id, "mint_job_token", request.repository, None, made["id"])
        return made

    async def revoke_job_token(self, token_id: str, *, runner_id: str | None = None) -> None:
        """Revoke a job token; a runner only one it minted."""
        try:
            await self._db.write(lambda c: jobs.revoke(c, token_id, runner_id=runner_id))
        except CargoholdError as err:
            self._record(runner_id, "revoke_job_token", token_id, err)
            raise
        self._record(runner_id, "revoke_job_token", token_id, None)

    def _record(
        self,
        runner_id: str | None,
        action: str,
        subject: str,
        err: CargoholdError | None,
        token_id: object = None,
    ) -> None:
        if runner_id is None:
            return  # the operator's CLI is not a decision
        reason = err.message if err is not None else f"{action} {token_id or subject}"
        self._audit(
            AuditEntry(
                at=now(),
                actor=f"runner {runner_id}",
                credential_id=runner_id,
                package=None,
                action=action[:20],
                result="denied" if err is not None else "allowed",
                gate="runner" if err is not None else None,
                reason=f"{subject}: {reason}" if err is not None else reason,
            )
        )
