"""Secrets: format, public id, keyed hash, constant-time comparison, server secret file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cargohold.accounts import secrets as sec


@pytest.mark.parametrize("kind", ["pat", "job", "runner"])
def test_new_secret_format(kind: str) -> None:
    cred_id, secret = sec.new_secret(kind)
    assert secret.startswith(sec.PREFIXES[kind])
    assert len(secret) == sec.SECRET_LENGTH
    assert cred_id == secret[: sec.ID_LENGTH]
    assert sec.public_id(secret) == cred_id
    assert sec.new_secret(kind)[1] != secret


@pytest.mark.parametrize(
    "bad", ["", "chp_short", "xyz_" + "a" * 40, "chp_" + "!" * 40, "chp_" + "a" * 41]
)
def test_public_id_rejects_garbage(bad: str) -> None:
    assert sec.public_id(bad) is None


def test_hash_is_keyed_and_compares() -> None:
    keys = sec.derive_keys("server secret")
    other = sec.derive_keys("another secret")
    _, secret = sec.new_secret("pat")
    stored = sec.hash_secret(keys.hash_key, secret)
    assert secret not in stored
    assert sec.matches(keys.hash_key, secret, stored)
    assert not sec.matches(other.hash_key, secret, stored)
    other_last = "y" if secret[-1] == "x" else "x"
    assert not sec.matches(keys.hash_key, secret[:-1] + other_last, stored)
    assert keys.signing_key != keys.hash_key


def test_server_secret_is_created_once_private(tmp_path: Path) -> None:
    first = sec.load_or_create_server_secret(str(tmp_path), "")
    assert sec.load_or_create_server_secret(str(tmp_path), "") == first
    mode = stat.S_IMODE(os.stat(tmp_path / "secret.key").st_mode)
    assert mode == 0o600
    assert sec.load_or_create_server_secret(str(tmp_path), "given") == "given"
