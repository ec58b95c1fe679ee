"""Password hashing with argon2id (argon2-cffi): hash, verify in constant time, needs_rehash.

Only the encoded hash (algorithm, parameters, salt and digest in one string) is stored. A
verification against no stored hash still spends the time of a real one, so a sign-in for an
unknown user or a user without a password cannot be told apart by timing.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 8
MAX_LENGTH = 1024  # argon2 takes any length; a cap keeps a hostile sign-in cheap to refuse

_HASHER = PasswordHasher()
# Verified when there is nothing to verify against (same cost as a real check).
_DUMMY = _HASHER.hash("cargohold dummy password")


def check_policy(password: str) -> str | None:
    """Why ``password`` may not be set (too short, too long), or None when it may."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"a password may have at most {MAX_LENGTH} characters"
    return None


def hash_password(password: str) -> str:
    """The encoded argon2id hash of ``password`` (salted; different on every call)."""
    return _HASHER.hash(password)


def verify(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored``; False for no stored hash or a broken one."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _HASHER.verify(stored if stored else _DUMMY, password) and bool(stored)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` was made with weaker parameters than today's."""
    try:
        return _HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True
