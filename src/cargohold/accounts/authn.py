"""Authentication as one domain call: what a request presented -> an ``Identity``, or a typed
refusal.

    Presented(secret | bearer | nothing)
        ─> bearer: signature, expiry, issuer ─ bad ─> Refused(error="invalid_token")
        ─> bearer: scopes cover the action? ─ no ─> Refused(error="insufficient_scope", scope)
        ─> credential alive (exists, not revoked, not expired, owner exists) ─ no ─> Refused
        ─> Identity (anonymous when nothing was presented)

Every refusal is audited with gate ``authentication`` and the credential's public id (never the
secret). Adapters turn a refusal into their wire form (the OCI API: 401 with a challenge).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cargohold.accounts import credentials
from cargohold.accounts.bearer import Verifier
from cargohold.accounts.secrets import Keys, public_id
from cargohold.audit.log import AuditEntry
from cargohold.authz.denials import UNAUTHENTICATED_TEXT
from cargohold.authz.memo import StateMemo
from cargohold.authz.model import ANONYMOUS_IDENTITY, Action, Identity
from cargohold.db.raw import Reader
from cargohold.db.tx import now
from cargohold.errors import UnauthorizedError
from cargohold.oci.scopes import covers

GATE = "authentication"


@dataclass(frozen=True, slots=True)
class Presented:
    """What a request presented: a secret (HTTP Basic password, token endpoint), a bearer token
    (unverified, as sent), or nothing."""

    secret: str | None = None
    bearer: str | None = None


@dataclass(frozen=True, slots=True)
class Wants:
    """The repository action a bearer token must cover (Docker token auth)."""

    name: str
    action: Action

    @property
    def scope(self) -> str:
        actions = {"pull": "pull", "push": "pull,push", "delete": "delete", "admin": "*"}
        return f"repository:{self.name}:{actions[self.action.value]}"


class Refused(UnauthorizedError):
    """Authentication refused. ``error`` is the RFC 6750 error code for a bearer challenge
    (``invalid_token``, ``insufficient_scope``) or None; ``scope`` the scope to ask for."""

    def __init__(
        self,
        message: str,
        *,
        error: str | None = None,
        scope: str | None = None,
        credential_id: str | None = None,
        detail: object = None,
    ) -> None:
        super().__init__(message, detail=detail)
        self.error = error
        self.scope = scope
        self.credential_id = credential_id


class Authenticator:
    def __init__(
        self,
        keys: Keys,
        verifier: Verifier,
        host: str,
        memo: StateMemo,
        audit: Callable[[AuditEntry], None],
    ) -> None:
        self._keys = keys
        self._verifier = verifier
        self._host = host
        self._memo = memo
        self._audit = audit

    def authenticate(self, db: Reader, presented: Presented, wants: Wants | None) -> Identity:
        """The identity behind ``presented``, checked against the current state in ``db``.

        Raises ``Refused``; every refusal is audited.
        """
        try:
            return self._authenticate(db, presented, wants)
        except UnauthorizedError as err:
            refused = err if isinstance(err, Refused) else _refused(err, presented)
            self._record(refused, wants)
            raise refused from None

    def _authenticate(self, db: Reader, presented: Presented, wants: Wants | None) -> Identity:
        self._memo.sync(db)
        if presented.bearer is not None:
            verified = self._verifier.verify(presented.bearer)
            if verified is None:
                raise Refused(
                    f"{UNAUTHENTICATED_TEXT} The bearer token is invalid or expired; request a "
                    "new one from the token endpoint.",
                    error="invalid_token",
                )
            if wants is not None and not (
                covers(verified.scopes, "repository", wants.name, wants.action.value)
                or (
                    wants.action is Action.DELETE
                    and covers(verified.scopes, "repository", wants.name, "*")
                )
            ):
                raise Refused(
                    "authentication required: the bearer token does not cover this repository "
                    f"and action; request a token for scope {wants.scope}",
                    error="insufficient_scope",
                    scope=wants.scope,
                    credential_id=verified.credential_id,
                )
            if verified.credential_id is None:
                return ANONYMOUS_IDENTITY
            return credentials.authenticate_id(db, verified.credential_id, self._host, self._memo)
        if presented.secret is not None:
            return credentials.authenticate_secret(
                db, self._keys, presented.secret, self._host, self._memo
            )
        return ANONYMOUS_IDENTITY

    def _record(self, refused: Refused, wants: Wants | None) -> None:
        self._audit(
            AuditEntry(
                at=now(),
                actor="unauthenticated",
                credential_id=refused.credential_id,
                package=wants.name if wants is not None else None,
                action=wants.action.value if wants is not None else "authenticate",
                result="denied",
                gate=GATE,
                reason=refused.message,
            )
        )


def _refused(err: UnauthorizedError, presented: Presented) -> Refused:
    cred = err.detail.get("credential", {}) if isinstance(err.detail, dict) else {}
    cred_id = cred.get("id") if isinstance(cred, dict) else None
    if cred_id is None and presented.secret is not None:
        cred_id = public_id(presented.secret)
    return Refused(err.message, credential_id=cred_id, detail=err.detail)
