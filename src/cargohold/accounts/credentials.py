"""Credentials: personal access tokens, CI job tokens, runner secrets; and authentication.

Authentication turns a secret (or the credential id inside a signed bearer token) into a
``Principal`` and a ``Credential`` of the permission model. It checks, against the current
state, that the credential exists, is not revoked and not expired, so a revocation takes effect on
the very next request of any process. Authorization is a separate step (``cargohold.authz``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType

from sqlalchemy import Connection, select, update

from cargohold.accounts import secrets as sec
from cargohold.accounts import service
from cargohold.authz.denials import UNAUTHENTICATED_TEXT
from cargohold.authz.memo import Slot, StateMemo
from cargohold.authz.model import (
    JOB_LEVELS,
    PAT_SCOPES,
    AccountKind,
    Credential,
    CredentialKind,
    Identity,
    JobPermission,
    PatScope,
    Principal,
    PrincipalKind,
    RepoRef,
    Role,
)
from cargohold.db import queries as q
from cargohold.db import schema as s
from cargohold.db.raw import Reader, timestamp
from cargohold.db.tx import insert_ignore, now
from cargohold.errors import InvalidRequestError, NotFoundError, UnauthorizedError

__all__ = ["PAT_SCOPES", "authenticate_id", "authenticate_secret"]


def _unauthenticated(why: str, cred_id: str | None, host: str) -> UnauthorizedError:
    fix = f"log in again with a valid token (docker logout {host}, then docker login {host})"
    return UnauthorizedError(
        f"{UNAUTHENTICATED_TEXT} {why}; {fix}.",
        detail={"credential": {"id": cred_id}, "reason": why, "fix": [fix]},
    )


def authenticate_secret(
    db: Reader, keys: sec.Keys, secret: str, host: str, memo: StateMemo | None = None
) -> Identity:
    """A secret presented with HTTP Basic (or at the token endpoint) -> identity, or 401."""
    cred_id = sec.public_id(secret)
    if cred_id is None:
        raise _unauthenticated("the secret is not a cargohold token", None, host)
    return _authenticate(
        db, cred_id, host, memo, lambda row: sec.matches(keys.hash_key, secret, row.secret_hash)
    )


def authenticate_id(db: Reader, cred_id: str, host: str, memo: StateMemo | None = None) -> Identity:
    """A credential id from a verified bearer token -> identity, or 401 if it died since."""
    return _authenticate(db, cred_id, host, memo, None)


def _authenticate(
    db: Reader,
    cred_id: str,
    host: str,
    memo: StateMemo | None,
    proof: Callable[[_Row], bool] | None,
) -> Identity:
    """Look up (or recall) the credential; check the proof first, then that it is alive.

    The secret is checked before revocation or expiry, so a wrong secret learns nothing about
    the state of the token whose id it names.
    """
    known = memo.get(CREDENTIALS, cred_id) if memo else None
    if known is None:
        row = _credential_row(db, cred_id)
        if row is None:
            raise _unauthenticated(f"token {cred_id} is unknown", cred_id, host)
        known = (row, None)
    row, identity = known
    if proof is not None and not proof(row):
        raise _unauthenticated(f"token {cred_id} is unknown", cred_id, host)
    _check_alive(row, host)
    if identity is None:
        identity = _identity(db, row, host)
        if memo is not None:
            memo.put(CREDENTIALS, cred_id, (row, identity))
    return identity


@dataclass(frozen=True, slots=True)
class _Row:
    id: str
    kind: str
    secret_hash: str
    user_id: int | None
    repo_id: int | None
    scopes: str
    permissions: str
    run_id: str | None
    expires_at: datetime | None
    revoked_at: datetime | None


CREDENTIALS: Slot[tuple[_Row, Identity | None]] = Slot("credential")


def _credential_row(db: Reader, cred_id: str) -> _Row | None:
    row = db.one(q.CREDENTIAL, id=cred_id)
    if row is None:
        return None
    return _Row(
        id=row.id,
        kind=row.kind,
        secret_hash=row.secret_hash,
        user_id=row.user_id,
        repo_id=row.repo_id,
        scopes=row.scopes,
        permissions=row.permissions,
        run_id=row.run_id,
        expires_at=timestamp(row.expires_at),
        revoked_at=timestamp(row.revoked_at),
    )


def _check_alive(row: _Row, host: str) -> None:
    cred_id = row.id
    if row.revoked_at is not None:
        raise _unauthenticated(
            f"token {cred_id} was revoked at {row.revoked_at:%Y-%m-%d %H:%M} UTC", cred_id, host
        )
    if row.expires_at is not None and row.expires_at <= now():
        raise _unauthenticated(
            f"token {cred_id} expired at {row.expires_at:%Y-%m-%d %H:%M} UTC", cred_id, host
        )


def _identity(db: Reader, row: _Row, host: str) -> Identity:
    cred_id = row.id
    if row.kind == "pat" and row.user_id is not None:
        principal = load_user_principal(db, row.user_id)
        if principal is None:
            raise _unauthenticated(f"the owner of token {cred_id} no longer exists", cred_id, host)
        scopes = frozenset(x for x in row.scopes.split(",") if x)
        return Identity(principal, Credential(CredentialKind.PAT, id=cred_id, scopes=scopes))
    if row.kind == "job" and row.repo_id is not None:
        repo = db.one(q.REPOSITORY, id=row.repo_id)
        if repo is None:
            raise _unauthenticated(
                f"the repository of token {cred_id} no longer exists", cred_id, host
            )
        perms = parse_permissions(row.permissions)
        principal = Principal(
            PrincipalKind.REPOSITORY,
            repo=RepoRef(repo.id, f"{repo.owner_login}/{repo.name}", repo.owner_id),
        )
        return Identity(
            principal,
            Credential(
                CredentialKind.JOB,
                id=cred_id,
                packages=Role.parse(perms.get("packages", "none")),
                run_id=row.run_id,
            ),
        )
    # Runner secrets mint job tokens; they carry no registry access of their own.
    raise _unauthenticated(
        f"token {cred_id} is a runner credential, not a registry token", cred_id, host
    )


def load_user_principal(db: Reader, user_id: int) -> Principal | None:
    user = db.one(q.ACCOUNT, id=user_id, kind=AccountKind.USER.value)
    if user is None:
        return None
    orgs: dict[int, str] = {}
    teams: set[int] = set()
    for m in db.all(q.MEMBERSHIPS, id=user_id):
        if m.team_id is not None:
            teams.add(m.team_id)
        else:
            orgs[m.org_id] = m.role
    return Principal(
        PrincipalKind.USER,
        user_id=user_id,
        login=user.login,
        site_admin=bool(user.site_admin),
        org_roles=MappingProxyType(orgs),
        team_ids=frozenset(teams),
    )


_KEYS = {p.value for p in JobPermission}
_LEVELS = {role.label for role in JOB_LEVELS}


def parse_permissions(text: str) -> dict[str, str]:
    """``packages=write,contents=read`` -> {"packages": "write", ...}; "" -> {} (a block that
    lists nothing). Raises ``InvalidRequestError`` naming the bad item."""
    out: dict[str, str] = {}
    for item in filter(None, (x.strip() for x in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or key not in _KEYS or value not in _LEVELS:
            raise InvalidRequestError(
                f"invalid permission {item!r}: expected one of "
                f"{', '.join(sorted(_KEYS))} = {'|'.join(r.label for r in JOB_LEVELS)}"
            )
        out[key] = value
    return out


def parse_scopes(text: str) -> frozenset[PatScope]:
    """``read:packages,write:packages`` -> the scopes; at least one, each a ``PatScope``."""
    given = {x.strip() for x in text.split(",") if x.strip()}
    known = {s.value for s in PatScope}
    bad = sorted(given - known)
    if bad or not given:
        raise InvalidRequestError(
            f"invalid scopes {', '.join(bad) or '(none)'}: expected some of {', '.join(known)}"
        )
    return frozenset(PatScope(x) for x in given)


def store(conn: Connection, keys: sec.Keys, kind: str, secret: str, **values: object) -> str:
    """Record a credential by its public id and keyed hash (never the secret); returns the id."""
    cred_id = sec.public_id(secret)
    if cred_id is None or not secret.startswith(sec.PREFIXES[kind]):
        raise InvalidRequestError(f"not a well-formed {sec.PREFIXES[kind]} secret")
    row: dict[str, object] = {"scopes": "", "permissions": "", "created_at": now()}
    row.update(values)
    conn.execute(
        s.credentials.insert().values(
            id=cred_id, kind=kind, secret_hash=sec.hash_secret(keys.hash_key, secret), **row
        )
    )
    return cred_id


def create_pat(
    conn: Connection,
    keys: sec.Keys,
    user_id: int,
    scopes: frozenset[str],
    expires_in: timedelta | None,
    name: str | None = None,
) -> tuple[str, str]:
    """Returns (public id, secret). The secret is shown once and never stored."""
    _, secret = sec.new_secret("pat")
    expires = now() + expires_in if expires_in else None
    cred_id = store(
        conn, keys, "pat", secret,
        user_id=user_id, name=name, scopes=",".join(sorted(scopes)), expires_at=expires,
    )  # fmt: skip
    return cred_id, secret


def create_job_token(
    conn: Connection,
    keys: sec.Keys,
    repo_id: int,
    permissions: dict[str, str],
    ttl: timedelta,
    run_id: str | None = None,
    minted_by: str | None = None,
) -> tuple[str, str, datetime]:
    _, secret = sec.new_secret("job")
    expires = now() + ttl
    cred_id = store(
        conn, keys, "job", secret,
        repo_id=repo_id, run_id=run_id, expires_at=expires, minted_by=minted_by,
        permissions=",".join(f"{k}={v}" for k, v in sorted(permissions.items())),
    )  # fmt: skip
    return cred_id, secret, expires


def create_runner(
    conn: Connection, keys: sec.Keys, name: str, serves: tuple[str, ...] = ()
) -> tuple[str, str]:
    """A runner credential serving ``serves`` (owners ``acme`` or repositories ``acme/shop``).

    Returns (public id, secret). A runner mints job tokens only for what it serves.
    """
    _, secret = sec.new_secret("runner")
    cred_id = store(conn, keys, "runner", secret, name=name)
    for target in serves:
        add_runner_scope(conn, cred_id, target)
    return cred_id, secret


def add_runner_scope(conn: Connection, runner_id: str, target: str) -> None:
    """Let the runner serve ``target``: an owner (all its repositories) or one repository."""
    found = conn.execute(
        select(s.credentials.c.id).where(
            s.credentials.c.id == runner_id, s.credentials.c.kind == "runner"
        )
    ).first()
    if found is None:
        raise NotFoundError(f"no runner {runner_id}")
    if "/" in target:
        repo = service.repo_id(conn, target)
        owner = service.require_account(conn, target.partition("/")[0])
    else:
        repo, owner = None, service.require_account(conn, target)
    insert_ignore(conn, s.runner_scopes, runner_id=runner_id, owner_id=owner, repo_id=repo)


def authenticate_runner(db: Reader, keys: sec.Keys, secret: str) -> str:
    """A runner secret -> its id, or 401."""
    cred_id = sec.public_id(secret)
    row = _credential_row(db, cred_id) if cred_id else None
    if (
        row is None
        or row.kind != "runner"
        or row.revoked_at is not None
        or not sec.matches(keys.hash_key, secret, row.secret_hash)
    ):
        raise UnauthorizedError(f"{UNAUTHENTICATED_TEXT} A runner credential is required.")
    return row.id


def revoke(conn: Connection, cred_id: str, *, kind: str | None = None) -> None:
    query = update(s.credentials).where(
        s.credentials.c.id == cred_id, s.credentials.c.revoked_at.is_(None)
    )
    if kind is not None:
        query = query.where(s.credentials.c.kind == kind)
    if conn.execute(query.values(revoked_at=now())).rowcount != 1:
        raise NotFoundError(f"no live token {cred_id}")
