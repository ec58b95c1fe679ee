"""CI job tokens: permissions by GitHub's ``permissions:`` rules, minting and revocation.

- A job that gives a ``permissions:`` block gets ``none`` for every permission the block does not
  list; an empty block (``permissions: {}``) means every permission is ``none``.
- Only a job without a block gets its owner's default: ``restricted`` -> packages read, contents
  read, metadata read; ``permissive`` -> packages write, contents write, metadata read.
- A job for a pull request from a fork gets at most ``read``.
- Minted through the runner API, a token is for a repository the runner serves (an owner it
  serves, or that repository itself); it records the runner, which alone may revoke it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import Connection, or_, select, update

from cargohold.accounts import credentials, service
from cargohold.accounts.secrets import Keys
from cargohold.authz.model import JobDefault, JobPermission, Role
from cargohold.db import schema as s
from cargohold.db.tx import now
from cargohold.errors import DeniedError, InvalidRequestError, NotFoundError

DEFAULTS: Mapping[JobDefault, Mapping[JobPermission, Role]] = {
    JobDefault.RESTRICTED: {
        JobPermission.PACKAGES: Role.READ,
        JobPermission.CONTENTS: Role.READ,
        JobPermission.METADATA: Role.READ,
    },
    JobDefault.PERMISSIVE: {
        JobPermission.PACKAGES: Role.WRITE,
        JobPermission.CONTENTS: Role.WRITE,
        JobPermission.METADATA: Role.READ,
    },
}


def resolve_permissions(
    listed: Mapping[str, str] | None, owner_default: str, *, fork: bool = False
) -> dict[str, str]:
    """The job's effective permissions (labels), from its block or, without one, the default."""
    perms: dict[JobPermission, Role]
    if listed is not None:
        given = {JobPermission(k): Role.parse(v) for k, v in listed.items()}
        perms = {key: given.get(key, Role.NONE) for key in JobPermission}
    else:
        perms = dict(DEFAULTS[JobDefault(owner_default)])
    if fork:
        perms = {k: min(v, Role.READ) for k, v in perms.items()}
    return {k.value: v.label for k, v in perms.items()}


def _serves(conn: Connection, runner_id: str, repo_id: int) -> bool:
    """Whether the runner serves the repository (or every repository of its owner)."""
    r, rs = s.repositories.c, s.runner_scopes.c
    found = conn.execute(
        select(rs.id)
        .join_from(s.runner_scopes, s.repositories, r.owner_id == rs.owner_id)
        .where(
            rs.runner_id == runner_id,
            r.id == repo_id,
            or_(rs.repo_id.is_(None), rs.repo_id == repo_id),
        )
        .limit(1)
    ).first()
    return found is not None


def mint(
    conn: Connection,
    keys: Keys,
    repository: str,
    listed: Mapping[str, str] | None,
    ttl: timedelta,
    *,
    max_ttl: timedelta,
    run_id: str | None = None,
    fork: bool = False,
    runner_id: str | None = None,
) -> dict[str, object]:
    """Mint a job token for the live repository ``repository``; the secret is in the result.

    ``runner_id`` (the runner API) must serve the repository, else ``DeniedError``; ``None`` is
    the local operator.
    """
    if ttl <= timedelta(0) or ttl > max_ttl:
        raise InvalidRequestError(f"ttl must be between 1 s and {int(max_ttl.total_seconds())} s")
    repo_id = service.repo_id(conn, repository)
    if runner_id is not None and not _serves(conn, runner_id, repo_id):
        raise DeniedError(
            f"runner {runner_id} does not serve {repository}; the operator can let it: "
            f"cargohold runner serve {runner_id} {repository}",
            detail={"runner": runner_id, "repository": repository},
        )
    owner_default = conn.execute(
        select(s.accounts.c.default_job_permission)
        .join(s.repositories, s.repositories.c.owner_id == s.accounts.c.id)
        .where(s.repositories.c.id == repo_id)
    ).scalar_one()
    perms = resolve_permissions(listed, owner_default, fork=fork)
    cred_id, secret, expires = credentials.create_job_token(
        conn, keys, repo_id, perms, ttl, run_id=run_id, minted_by=runner_id
    )
    return {
        "id": cred_id,
        "token": secret,
        "repository": repository,
        "permissions": perms,
        "expires_at": _iso(expires),
        "run_id": run_id,
    }


def revoke(conn: Connection, token_id: str, *, runner_id: str | None = None) -> None:
    """Revoke a live job token; a runner only one it minted (else it is unknown to it)."""
    c = s.credentials.c
    query = update(s.credentials).where(c.id == token_id, c.kind == "job", c.revoked_at.is_(None))
    if runner_id is not None:
        query = query.where(c.minted_by == runner_id)
    if conn.execute(query.values(revoked_at=now())).rowcount != 1:
        raise NotFoundError(f"no live job token {token_id}")


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
