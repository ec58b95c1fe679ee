"""Authorization for management reads and settings: the one decision, plus existence hiding.

A caller who may not read a package gets NOT_FOUND for it, whether it exists or not, so the
REST API and the UI never reveal a private package's existence. A caller who may read it but
not do ``action`` gets the decision's own denial (who, held, needed, fix).
"""

from __future__ import annotations

from collections.abc import Callable

from cargohold.audit.log import AuditEntry
from cargohold.authz.decide import Allowed, decide
from cargohold.authz.model import Action, Identity
from cargohold.authz.service import Authorized, authorize, state_for
from cargohold.db.raw import Reader
from cargohold.errors import DeniedError, NotFoundError, UnauthorizedError


def not_found(name: str) -> NotFoundError:
    return NotFoundError(f"package {name} not found", detail={"name": name})


def may_read(db: Reader, identity: Identity, name: str, base_url: str) -> bool:
    state = state_for(db, name)
    verdict = decide(identity.principal, identity.credential, Action.PULL, state, base_url=base_url)
    return isinstance(verdict, Allowed)


def authorize_visible(
    db: Reader,
    identity: Identity,
    action: Action,
    name: str,
    *,
    base_url: str,
    audit: Callable[[AuditEntry], None],
) -> Authorized:
    """``authorize``, except that a caller who may not even read gets NOT_FOUND."""
    try:
        return authorize(db, identity, action, name, base_url=base_url, audit=audit)
    except (DeniedError, UnauthorizedError):
        if action is not Action.PULL and may_read(db, identity, name, base_url):
            raise
        raise not_found(name) from None
