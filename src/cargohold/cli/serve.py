"""``cargohold serve``: migrate, make sure an admin exists, print how to use it, serve.

Files on the host (security finding 11): the server runs with umask 077, so nothing it creates
(database, WAL, blobs, uploads, directories) is readable by group or others; a data directory it
creates is 0700. The first-start admin token goes to a 0600 file whose path is printed; the
token itself is printed only when stdout is a terminal, never into a captured log.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cargohold.accounts.bootstrap import ensure_admin, save_first_token
from cargohold.accounts.secrets import derive_keys, load_or_create_server_secret
from cargohold.db import tx
from cargohold.db.engine import make_engine, migrate
from cargohold.settings import load_settings
from cargohold.web.server import serve as run_server


def serve(
    *,
    data_dir: str | None,
    config: str | None,
    listen: str | None,
    workers: int | None,
    tls_cert: str | None = None,
    tls_key: str | None = None,
) -> None:
    settings = load_settings(
        {
            "data_dir": data_dir,
            "listen": listen,
            "workers": workers,
            "tls_cert": tls_cert,
            "tls_key": tls_key,
        },
        config_file=config,
    )
    os.umask(0o077)
    Path(settings.data_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
    engine = make_engine(settings.db_url, pool_size=1)
    try:
        migrate(engine)
        keys = derive_keys(load_or_create_server_secret(settings.data_dir, settings.secret_key))
        with tx.write(engine) as conn:
            secret = ensure_admin(conn, keys, settings.admin_user, settings.admin_token)
    finally:
        engine.dispose()
    host = settings.service_name
    lines = [f"cargohold listening on {settings.external_url} (data in {settings.data_dir})"]
    if secret is not None:
        path = save_first_token(settings.data_dir, secret)
        lines += [
            f"First start: created site admin {settings.admin_user!r}; its token is in {path}"
            " (readable by this user only; keep it elsewhere and delete the file)",
        ]
        if sys.stdout.isatty():
            lines.append(f"  {secret}")
    if settings.auth_enabled:
        lines += [
            f"Log in:  echo $TOKEN | docker login {host} -u {settings.admin_user} --password-stdin",
        ]
    else:
        lines.append("Authentication is OFF (auth_enabled = false): anyone may push and pull.")
    lines += [
        f"Push:    docker tag IMAGE {host}/OWNER/NAME:TAG && docker push {host}/OWNER/NAME:TAG",
        f"         (podman/skopeo: add --tls-verify=false for plain HTTP on {host})",
    ]
    run_server(settings, announce="\n".join(lines))
