"""Authorization as a service: load current state, run the pure decision, audit, raise.

This is the only place that turns a ``Denied`` into an error; every adapter (OCI API, REST API,
CLI ``why``) goes through it or through ``decide`` itself, so no rule is written twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cargohold.audit.log import AuditEntry
from cargohold.authz.decide import Allowed, Denied, decide
from cargohold.authz.loader import load_package
from cargohold.authz.memo import Slot, StateMemo
from cargohold.authz.model import Action, Identity, OwnerState, PackageState
from cargohold.db.raw import Reader
from cargohold.db.tx import now
from cargohold.errors import DeniedError, UnauthorizedError
from cargohold.oci.names import split_owner

PACKAGES: Slot[PackageState] = Slot("package")
DECISIONS: Slot[tuple[Allowed | Denied, str]] = Slot("decision")


@dataclass(frozen=True, slots=True)
class Authorized:
    allowed: Allowed
    package: PackageState


def state_for(db: Reader, name: str, memo: StateMemo | None = None) -> PackageState:
    """The package's state now (recalled from ``memo`` while ``authz_version`` is unchanged)."""
    if memo is not None:
        known = memo.get(PACKAGES, name)
        if known is not None:
            return known
    state = _load(db, name)
    if memo is not None:
        memo.put(PACKAGES, name, state)
    return state


def _load(db: Reader, name: str) -> PackageState:
    state = load_package(db, name)
    if state is None:
        # No such owner namespace: a missing package whose owner nobody is (only a site admin
        # passes the decision; creating then fails with NAME_UNKNOWN naming the namespace).
        return PackageState(
            name=name, owner=OwnerState(0, split_owner(name)[0], "user"), exists=False
        )
    return state


def authorize(
    db: Reader,
    identity: Identity,
    action: Action,
    name: str,
    *,
    base_url: str,
    audit: Callable[[AuditEntry], None],
    memo: StateMemo | None = None,
) -> Authorized:
    state = state_for(db, name, memo)
    # decide() is pure over values that are fixed for one authz_version, so its answer (and
    # the audit reason drawn from it) is too.
    key = f"{identity.credential.id or '-'} {action.value} {name}"
    known = memo.get(DECISIONS, key) if memo else None
    if known is None:
        verdict = decide(identity.principal, identity.credential, action, state, base_url=base_url)
        known = (verdict, _reason(verdict))
        if memo is not None:
            memo.put(DECISIONS, key, known)
    decision, reason = known
    audit(
        AuditEntry(
            at=now(),
            actor=identity.actor,
            credential_id=identity.credential.id,
            package=name,
            action=action.value,
            result="allowed" if isinstance(decision, Allowed) else "denied",
            gate=None if isinstance(decision, Allowed) else decision.gate,
            reason=reason,
        )
    )
    if isinstance(decision, Denied):
        raise denial_error(decision)
    return Authorized(decision, state)


def _reason(decision: Allowed | Denied) -> str:
    if isinstance(decision, Allowed):
        return "; ".join(src.description for src in decision.sources[:3])
    return decision.message


def denial_error(decision: Denied) -> DeniedError | UnauthorizedError:
    cls = UnauthorizedError if decision.code == "UNAUTHORIZED" else DeniedError
    return cls(decision.message, detail=dict(decision.detail))
