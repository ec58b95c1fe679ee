"""First start: a site admin and a token, once; or the token given in the settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from cargohold.accounts import secrets as sec
from cargohold.accounts.bootstrap import ensure_admin
from cargohold.accounts.credentials import authenticate_secret
from cargohold.db import tx
from cargohold.db.engine import make_engine, migrate
from cargohold.db.raw import Reader
from cargohold.errors import ConfigError

KEYS = sec.derive_keys("bootstrap test")


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    eng = make_engine(f"sqlite:///{tmp_path / 'b.db'}")
    migrate(eng)
    return eng


def login(engine: Engine, secret: str) -> str | None:
    with tx.write(engine) as conn:
        identity = authenticate_secret(Reader.over(conn), KEYS, secret, "host")
    return identity.principal.login


def test_generated_once(engine: Engine) -> None:
    with tx.write(engine) as conn:
        secret = ensure_admin(conn, KEYS, "admin", "")
    assert secret is not None and secret.startswith("chp_")
    assert login(engine, secret) == "admin"
    with tx.write(engine) as conn:
        assert ensure_admin(conn, KEYS, "admin", "") is None


def test_given_token_is_used_and_not_printed(engine: Engine) -> None:
    _, given = sec.new_secret("pat")
    with tx.write(engine) as conn:
        assert ensure_admin(conn, KEYS, "root", given) is None
    assert login(engine, given) == "root"


def test_malformed_given_token(engine: Engine) -> None:
    with pytest.raises(ConfigError, match="admin_token"), tx.write(engine) as conn:
        ensure_admin(conn, KEYS, "admin", "password123")
