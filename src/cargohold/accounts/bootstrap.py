"""First start: an empty data directory gets a site-admin user and a token for it, once.

So a new installation never locks its operator out. The token comes from ``admin_token`` in the
settings when given (it must be a well-formed ``chp_`` secret), else it is generated, and
``save_first_token`` writes it to ``<data_dir>/admin-token`` (mode 0600, created only once) for the
operator to read and delete. It is never printed to a log (security finding 11: stdout is
whatever captures the server's output) and the database stores only its keyed hash.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Connection, func, select

from cargohold.accounts import credentials
from cargohold.accounts import secrets as sec
from cargohold.accounts.service import create_account
from cargohold.db import schema as s
from cargohold.errors import ConfigError, InvalidRequestError

TOKEN_FILE = "admin-token"


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


def save_first_token(data_dir: str, secret: str) -> Path:
    """Write ``secret`` to ``<data_dir>/admin-token``, readable by the server's user only.

    A file left by an earlier first start is removed first: its token belonged to a database
    that has no users any more. The new file is created with O_EXCL (never through a symlink).
    """
    path = Path(data_dir) / TOKEN_FILE
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret + "\n")
    return path
