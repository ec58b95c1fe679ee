"""A signed-in person's own personal access tokens: list, create (shown once), revoke.

Only a password session may manage tokens: a session opened with a token carries that token's
scopes, and letting it mint a new token would let a ``read:packages`` token become a
``write:packages`` one. A person only ever sees and revokes their own tokens.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Connection, select

from cargohold.accounts import credentials
from cargohold.accounts.token_service import NewSecret, TokenInfo, TokenService
from cargohold.authz.model import CredentialKind, Identity, PatScope, PrincipalKind
from cargohold.db import schema as s
from cargohold.db.runner import Database
from cargohold.errors import DeniedError, NotFoundError

PASSWORD_NEEDED = (
    "Tokens can only be managed in a session signed in with a password: a session opened with"
    " a token may not make tokens. Sign out and sign in with your password"
    " (an operator sets it with `cargohold user password LOGIN`)."
)


class PersonalTokens:
    def __init__(self, db: Database, tokens: TokenService) -> None:
        self._db = db
        self._tokens = tokens

    async def list(self, identity: Identity) -> list[TokenInfo]:
        """The person's personal access tokens, oldest first (never a secret)."""
        login = _login(identity)
        return [t for t in await self._tokens.list(login) if t.kind == "pat"]

    async def create(
        self,
        identity: Identity,
        scopes: frozenset[PatScope],
        *,
        expires_in: timedelta | None,
        name: str | None,
    ) -> NewSecret:
        """A new token of the person; the secret is in the answer and nowhere else."""
        _require_password_session(identity)
        return await self._tokens.create_pat(
            _login(identity), scopes, expires_in=expires_in, name=name
        )

    async def revoke(self, identity: Identity, token_id: str) -> None:
        """Revoke one of the person's own live tokens; anyone else's is ``NotFoundError``."""
        _require_password_session(identity)
        user_id = identity.principal.user_id

        def run(conn: Connection) -> None:
            c = s.credentials.c
            owner = conn.execute(
                select(c.user_id).where(c.id == token_id, c.kind == "pat")
            ).scalar()
            if owner is None or owner != user_id:
                raise NotFoundError(f"no token {token_id} of yours")
            credentials.revoke(conn, token_id, kind="pat")

        await self._db.write(run)


def _login(identity: Identity) -> str:
    p = identity.principal
    if p.kind is not PrincipalKind.USER or not p.login:
        raise DeniedError("sign in to manage your tokens")
    return p.login


def _require_password_session(identity: Identity) -> None:
    _login(identity)
    if identity.credential.kind is not CredentialKind.SESSION:
        raise DeniedError(PASSWORD_NEEDED)
