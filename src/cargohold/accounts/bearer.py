"""Signed short-lived bearer tokens of the Docker token flow.

``/token`` authenticates a secret and hands back a JWT (HS256, key derived from the server
secret) naming the credential id and the scopes the client asked for. It grants nothing by
itself: every registry request still authenticates the credential id against the current state
and runs the permission decision, so revocations and grants take effect at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

from cargohold.oci.scopes import Scope, format_scope, parse_scopes

ISSUER = "cargohold"
# Every claim ``issue`` writes and ``verify`` relies on. A token signed with our key but
# missing one (a key leaked to a test rig, a future issuer bug) is refused, never a 500.
REQUIRED_CLAIMS = ("exp", "iat", "sub", "aud", "iss")


@dataclass(frozen=True, slots=True)
class Bearer:
    credential_id: str | None  # None: anonymous
    scopes: tuple[Scope, ...]
    expires_at: int


def issue(
    signing_key: bytes, service: str, credential_id: str | None, scopes: tuple[Scope, ...], ttl: int
) -> tuple[str, int, int]:
    """Returns (token, issued_at, expires_in)."""
    issued = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": service,
        "sub": credential_id or "",
        "iat": issued,
        "nbf": issued - 5,
        "exp": issued + ttl,
        "scope": " ".join(format_scope(sc) for sc in scopes),
    }
    return jwt.encode(claims, signing_key, algorithm="HS256"), issued, ttl


class Verifier:
    """``verify`` with a bounded memo of tokens already verified by this process.

    Verifying a JWT costs ~60 us of Python; a client sends the same token for minutes. The memo
    holds only the outcome of a pure check (signature, audience, issuer); expiry is checked on
    every use, and revocation is checked against the database by authentication anyway.
    """

    def __init__(self, signing_key: bytes, service: str, capacity: int = 4096) -> None:
        self._key = signing_key
        self._service = service
        self._capacity = capacity
        self._seen: dict[str, Bearer] = {}

    def verify(self, token: str) -> Bearer | None:
        known = self._seen.get(token)
        if known is not None:
            if known.expires_at > time.time():
                return known
            del self._seen[token]
            return None
        checked = verify(self._key, self._service, token)
        if checked is not None:
            if len(self._seen) >= self._capacity:
                del self._seen[next(iter(self._seen))]
            self._seen[token] = checked
        return checked


def verify(signing_key: bytes, service: str, token: str) -> Bearer | None:
    """The bearer's contents, or None when the token is forged, expired, for another service,
    or lacks a claim of ``REQUIRED_CLAIMS`` (or has one of the wrong type)."""
    try:
        claims = jwt.decode(
            token,
            signing_key,
            algorithms=["HS256"],
            audience=service,
            issuer=ISSUER,
            leeway=5,
            options={"require": list(REQUIRED_CLAIMS)},
        )
    except jwt.PyJWTError:
        return None
    sub, scope = claims["sub"], claims.get("scope", "")
    if not isinstance(sub, str) or not isinstance(scope, str):
        return None
    return Bearer(sub or None, parse_scopes([scope]), int(claims["exp"]))
