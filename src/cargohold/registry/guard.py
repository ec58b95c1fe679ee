"""Authorization for management reads and settings: the one decision, plus existence hiding.

A caller who may not read a package gets NOT_FOUND for it, whether it exists or not, so the
REST API and the UI never reveal a private package's existence. A caller who may read it but
not do ``action`` gets the decision's own denial (who, held, needed, fix).
"""

from __future__ import annotations

from collections.abc import Callable

from cargohold.audit.log import AuditEntry
from cargohold.authz.decide import Allowed, decide
from cargohold.authz.model import Action, Identity, PackageState
from cargohold.authz.service import Authorized, authorize, state_for
from cargohold.db.raw import Reader
from cargohold.errors import DeniedError, NotFoundError, UnauthorizedError


def not_found(name: str) -> NotFoundError:
    return NotFoundError(f"package {name} not found", detail={"name": name})


def permits(by: Identity, action: Action, state: PackageState, base_url: str) -> bool:
    """Whether the one decision lets ``by`` do ``action`` on the package (not audited)."""
    verdict = decide(by.principal, by.credential, action, state, base_url=base_url)
    return isinstance(verdict, Allowed)


def may_read(db: Reader, identity: Identity, name: str, base_url: str) -> bool:
    return permits(identity, Action.PULL, state_for(db, name), base_url)


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


def authorize_admin(
    db: Reader,
    by: Identity | None,
    name: str,
    *,
    base_url: str,
    audit: Callable[[AuditEntry], None],
) -> None:
    """Package admin, for a change of its settings; ``by=None`` is the local operator (CLI),
    who needs no check. A caller who may not even read gets NOT_FOUND (no existence leak)."""
    if by is not None:
        authorize_visible(db, by, Action.ADMIN, name, base_url=base_url, audit=audit)
