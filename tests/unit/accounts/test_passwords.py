"""Password hashing: argon2id, salted, verified in constant time, rehash on weaker parameters."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST

from cargohold.accounts import passwords


def test_hash_is_argon2id_salted_and_verifies() -> None:
    first = passwords.hash_password("correct horse")
    second = passwords.hash_password("correct horse")
    assert first.startswith("$argon2id$") and first != second
    assert passwords.verify(first, "correct horse")
    assert not passwords.verify(first, "correct horsE")


def test_no_stored_hash_or_a_broken_one_never_verifies() -> None:
    assert not passwords.verify(None, "anything at all")
    assert not passwords.verify("", "anything at all")
    assert not passwords.verify("$argon2id$garbage", "anything at all")
    assert not passwords.verify("plain text", "plain text")


def test_overlong_passwords_are_refused_cheaply() -> None:
    stored = passwords.hash_password("x" * 20)
    assert not passwords.verify(stored, "x" * (passwords.MAX_LENGTH + 1))


def test_policy() -> None:
    assert passwords.check_policy("short") == "a password needs at least 8 characters"
    assert passwords.check_policy("x" * (passwords.MAX_LENGTH + 1)) is not None
    assert passwords.check_policy("long enough") is None


def test_weaker_hashes_need_a_rehash() -> None:
    weak = PasswordHasher.from_parameters(CHEAPEST).hash("correct horse")
    assert passwords.needs_rehash(weak)
    assert not passwords.needs_rehash(passwords.hash_password("correct horse"))
    assert passwords.needs_rehash("not a hash")
