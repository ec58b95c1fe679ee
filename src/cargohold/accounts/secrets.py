"""Secrets: generation, keyed hashing at rest, constant-time comparison.

A credential secret looks like ``chp_<id6><random34>`` (PAT), ``chj_...`` (job token) or
``chr_...`` (runner). Its first 10 characters are its public id (``chp_a1B2c3``), safe to show
and log; the rest is never stored: the DB keeps ``HMAC-SHA256(hash_key, secret)``.

``hash_key`` and the bearer-token ``signing_key`` both derive from one server secret, generated
into ``<data_dir>/secret.key`` on first start (mode 0600) unless given in the settings; replicas
share it through the settings.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import string
from dataclasses import dataclass
from pathlib import Path

ALPHABET = string.ascii_letters + string.digits
PREFIXES = {"pat": "chp_", "job": "chj_", "runner": "chr_"}
ID_LENGTH = 10
SECRET_LENGTH = 44


@dataclass(frozen=True, slots=True)
class Keys:
    signing_key: bytes
    hash_key: bytes


def derive_keys(server_secret: str) -> Keys:
    root = server_secret.encode()
    return Keys(
        signing_key=hmac.new(root, b"cargohold bearer signing", hashlib.sha256).digest(),
        hash_key=hmac.new(root, b"cargohold credential hashing", hashlib.sha256).digest(),
    )


def load_or_create_server_secret(data_dir: str, configured: str) -> str:
    if configured:
        return configured
    path = Path(data_dir) / "secret.key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    # O_EXCL: if two processes start at once, one creates it and the other reads it.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value


def new_secret(kind: str) -> tuple[str, str]:
    """A fresh secret of ``kind`` and its public id."""
    prefix = PREFIXES[kind]
    body = "".join(secrets.choice(ALPHABET) for _ in range(SECRET_LENGTH - len(prefix)))
    secret = prefix + body
    return secret[:ID_LENGTH], secret


def public_id(secret: str) -> str | None:
    """The public id of a well-formed secret, else None (no DB lookup for garbage)."""
    if len(secret) != SECRET_LENGTH or secret[:4] not in PREFIXES.values():
        return None
    if any(c not in ALPHABET for c in secret[4:]):
        return None
    return secret[:ID_LENGTH]


def hash_secret(hash_key: bytes, secret: str) -> str:
    return hmac.new(hash_key, secret.encode(), hashlib.sha256).hexdigest()


def matches(hash_key: bytes, secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(hash_key, secret), stored_hash)
