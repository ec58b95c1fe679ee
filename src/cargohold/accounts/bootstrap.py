"""First start: an empty data directory gets a site-admin user and a token for it, once.

So a new installation never locks its operator out. The token comes from ``admin_token`` in the
settings when given (it must be a well-formed ``chp_`` secret), else it is generated and returned
for printing; it is never stored in clear.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from cargohold.accounts import credentials
from cargohold.accounts import secrets as sec
from cargohold.accounts.service import create_account
from cargohold.db import schema as s
from cargohold.errors import ConfigError, InvalidRequestError


def ensure_admin(conn: Connection, keys: sec.Keys, login: str, given_token: str) -> str | None:
    """Create the first admin if there are no users. Returns a generated secret to print."""
    users = conn.execute(
        select(func.count()).select_from(s.accounts).where(s.accounts.c.kind == "user")
    ).scalar_one()
    if users:
        return None
    user_id = create_account(conn, login, "user", site_admin=True)
    scopes = frozenset(credentials.PAT_SCOPES)
    if given_token:
        try:
            credentials.store(
                conn, keys, "pat", given_token,
                user_id=user_id, name="bootstrap", scopes=",".join(sorted(scopes)),
            )  # fmt: skip
        except InvalidRequestError as exc:
            raise ConfigError("setting 'admin_token': not a well-formed chp_ token") from exc
        return None
    _, secret = credentials.create_pat(conn, keys, user_id, scopes, None, name="bootstrap")
    return secret
