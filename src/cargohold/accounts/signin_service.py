"""Signing in to the web UI: passwords, personal access tokens, rate limiting, session checks.

``sign_in`` takes a login and a secret that is either the user's password or one of the user's
personal access tokens (the session then carries that token's scopes, so it can never do more
than the token could). Failed attempts are recorded in ``signin_failures`` under the login and
under the client address, in the database so that every replica counts the same failures; once
either key has ``max_failures`` within ``window``, further attempts are refused with 429 before
any secret is checked, until the window has passed.

A session stores only (user id, token id or None, stamp). ``identity`` re-checks it against the
current state on every request: a revoked or expired token, a deleted user or a changed password
(the stamp is derived from the password hash) ends the session.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, delete, func, select, update

from cargohold.accounts import credentials, passwords, service
from cargohold.accounts import secrets as sec
from cargohold.authz.model import AccountKind, Credential, CredentialKind, Identity
from cargohold.db import queries as q
from cargohold.db import schema as s
from cargohold.db.raw import Reader
from cargohold.db.runner import Database
from cargohold.db.tx import now
from cargohold.errors import (
    InvalidRequestError,
    TooManyRequestsError,
    UnauthorizedError,
)

BAD_CREDENTIALS = "Incorrect username, password or token."


@dataclass(frozen=True, slots=True)
class SignedIn:
    """What a session remembers: the user, the token signed in with (None: password), a stamp."""

    user_id: int
    login: str
    credential_id: str | None
    stamp: str


class SignInService:
    def __init__(
        self,
        db: Database,
        keys: sec.Keys,
        *,
        host: str,
        max_failures: int = 5,
        max_failures_per_address: int = 30,
        window: timedelta = timedelta(minutes=15),
    ) -> None:
        self._db = db
        self._keys = keys
        self._host = host
        self._max_user = max_failures
        self._max_addr = max_failures_per_address
        self._window = window

    async def set_password(self, login: str, password: str) -> None:
        """Set (or replace) the password of the user ``login``; ends its password sessions."""
        why = passwords.check_policy(password)
        if why is not None:
            raise InvalidRequestError(why)
        hashed = passwords.hash_password(password)

        def change(conn: Connection) -> None:
            uid = service.require_account(conn, login, AccountKind.USER)
            conn.execute(
                update(s.accounts).where(s.accounts.c.id == uid).values(password_hash=hashed)
            )

        await self._db.write(change)

    async def sign_in(self, login: str, secret: str, client: str) -> SignedIn:
        """Check ``secret`` (password or PAT) for ``login`` from address ``client``.

        Raises ``TooManyRequestsError`` (429) while the login or the address is locked out,
        ``UnauthorizedError`` with one message for every wrong combination (unknown user, wrong
        password, someone else's or a dead token), so nothing is learnt about which part was
        wrong.
        """
        login = login.strip()
        keys = (f"user:{login.lower()}"[:200], f"addr:{client}"[:200])

        def attempt(conn: Connection) -> SignedIn | str:
            if self._locked(conn, keys):
                return "locked"
            found = self._check(conn, login, secret)
            if found is None:
                at = now()
                conn.execute(s.signin_failures.insert(), [{"key": k, "at": at} for k in keys])
                return "bad"
            conn.execute(delete(s.signin_failures).where(s.signin_failures.c.key == keys[0]))
            return found

        result = await self._db.write(attempt)
        if result == "locked":
            minutes = int(self._window.total_seconds() // 60)
            raise TooManyRequestsError(
                f"Too many failed sign-ins for this account or address; try again in {minutes}"
                " minutes.",
                headers={"Retry-After": str(int(self._window.total_seconds()))},
            )
        if isinstance(result, str):
            raise UnauthorizedError(BAD_CREDENTIALS)
        return result

    def identity(self, signed: SignedIn) -> Identity | None:
        """The identity a session acts as now, or None when the session is no longer valid."""
        return self._db.read_on_loop(lambda db: self._identity(db, signed))

    def _locked(self, conn: Connection, keys: tuple[str, str]) -> bool:
        f = s.signin_failures.c
        since = now() - self._window
        conn.execute(delete(s.signin_failures).where(f.at < since))
        counts: dict[str, int] = dict(
            conn.execute(
                select(f.key, func.count()).where(f.key.in_(keys), f.at >= since).group_by(f.key)
            ).all()
        )
        by_user, by_addr = counts.get(keys[0], 0), counts.get(keys[1], 0)
        return bool(by_user >= self._max_user or by_addr >= self._max_addr)

    def _check(self, conn: Connection, login: str, secret: str) -> SignedIn | None:
        a = s.accounts.c
        row = conn.execute(
            select(a.id, a.login, a.password_hash).where(
                func.lower(a.login) == login.lower(), a.kind == AccountKind.USER.value
            )
        ).first()
        if secret.startswith(sec.PREFIXES["pat"]) and sec.public_id(secret) is not None:
            try:
                found = credentials.authenticate_secret(
                    Reader.over(conn), self._keys, secret, self._host
                )
            except UnauthorizedError:
                return None
            p = found.principal
            if (
                row is None
                or p.user_id != row.id
                or found.credential.kind is not CredentialKind.PAT
            ):
                return None
            return SignedIn(row.id, row.login, found.credential.id, "")
        stored = row.password_hash if row is not None else None
        if not passwords.verify(stored, secret) or row is None or stored is None:
            return None
        if passwords.needs_rehash(stored):
            stored = passwords.hash_password(secret)
            conn.execute(update(s.accounts).where(a.id == row.id).values(password_hash=stored))
        return SignedIn(row.id, row.login, None, self._stamp(stored))

    def _stamp(self, password_hash: str) -> str:
        mac = hmac.new(self._keys.hash_key, password_hash.encode(), hashlib.sha256)
        return mac.hexdigest()[:24]

    def _identity(self, db: Reader, signed: SignedIn) -> Identity | None:
        if signed.credential_id is not None:
            try:
                found = credentials.authenticate_id(db, signed.credential_id, self._host)
            except UnauthorizedError:
                return None
            return found if found.principal.user_id == signed.user_id else None
        stored = db.scalar(q.USER_PASSWORD_HASH, id=signed.user_id)
        if not stored or not hmac.compare_digest(self._stamp(stored), signed.stamp):
            return None
        principal = credentials.load_user_principal(db, signed.user_id)
        if principal is None:
            return None
        return Identity(principal, Credential(CredentialKind.SESSION))
