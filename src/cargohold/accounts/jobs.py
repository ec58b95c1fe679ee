"""CI job tokens: permissions by GitHub's ``permissions:`` rules, minting and revocation.

- A job that lists any permission gets ``none`` for every unlisted one.
- A job without a block gets its owner's default: ``restricted`` -> packages read, contents read,
  metadata read; ``permissive`` -> packages write, contents write, metadata read.
- A job for a pull request from a fork gets at most ``read``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, select

from cargohold.accounts import credentials, service
from cargohold.accounts.secrets import Keys
from cargohold.db import schema as s
from cargohold.errors import InvalidRequestError

DEFAULTS = {
    "restricted": {"packages": "read", "contents": "read", "metadata": "read"},
    "permissive": {"packages": "write", "contents": "write", "metadata": "read"},
}
LEVEL = {"none": 0, "read": 1, "write": 2}


def resolve_permissions(
    listed: dict[str, str] | None, owner_default: str, *, fork: bool = False
) -> dict[str, str]:
    if listed:
        perms = {key: listed.get(key, "none") for key in credentials.JOB_PERMISSIONS}
    else:
        perms = dict(DEFAULTS[owner_default])
    if fork:
        perms = {k: ("read" if LEVEL[v] > LEVEL["read"] else v) for k, v in perms.items()}
    return perms


def mint(
    conn: Connection,
    keys: Keys,
    repository: str,
    listed: dict[str, str] | None,
    ttl: timedelta,
    *,
    max_ttl: timedelta,
    run_id: str | None = None,
    fork: bool = False,
) -> dict[str, object]:
    """Mint a job token for the live repository ``repository``; the secret is in the result."""
    if ttl <= timedelta(0) or ttl > max_ttl:
        raise InvalidRequestError(f"ttl must be between 1 s and {int(max_ttl.total_seconds())} s")
    repo_id = service.repo_id(conn, repository)
    owner_default = conn.execute(
        select(s.accounts.c.default_job_permission)
        .join(s.repositories, s.repositories.c.owner_id == s.accounts.c.id)
        .where(s.repositories.c.id == repo_id)
    ).scalar_one()
    perms = resolve_permissions(listed, owner_default, fork=fork)
    cred_id, secret, expires = credentials.create_job_token(
        conn, keys, repo_id, perms, ttl, run_id=run_id
    )
    return {
        "id": cred_id,
        "token": secret,
        "repository": repository,
        "permissions": perms,
        "expires_at": _iso(expires),
        "run_id": run_id,
    }


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
