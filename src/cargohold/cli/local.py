"""Local mode: the CLI works on the data directory's database directly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Connection

from cargohold.accounts.secrets import Keys, derive_keys, load_or_create_server_secret
from cargohold.db import tx
from cargohold.db.engine import make_engine, migrate
from cargohold.settings import Settings, load_settings

T = TypeVar("T")


@dataclass(frozen=True)
class Local:
    conn: Connection
    keys: Keys
    settings: Settings


def run_local(data_dir: str | None, config: str | None, fn: Callable[[Local], T]) -> T:
    """Run ``fn`` in one write transaction on the data directory's database."""
    settings = load_settings({"data_dir": data_dir}, config_file=config)
    engine = make_engine(settings.db_url, pool_size=1)
    try:
        migrate(engine)
        keys = derive_keys(load_or_create_server_secret(settings.data_dir, settings.secret_key))
        with tx.write(engine) as conn:
            return fn(Local(conn, keys, settings))
    finally:
        engine.dispose()
