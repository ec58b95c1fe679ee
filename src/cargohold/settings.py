"""The one settings object.

Read once, at start, from (lowest to highest precedence) defaults, a TOML config file, environment
variables prefixed ``CARGOHOLD_`` and explicit overrides (CLI flags). Nothing else in cargohold
reads ``os.environ``. A bad value raises ``ConfigError`` naming the key.

The config file is ``--config PATH`` / ``CARGOHOLD_CONFIG``, else ``<data_dir>/cargohold.toml`` if
it exists. Keys are the field names below (``listen = "0.0.0.0:5000"``).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from cargohold.errors import ConfigError

ENV_PREFIX = "CARGOHOLD_"
DEFAULT_DATA_DIR = "./cargohold-data"
# Variables of the same prefix that are not server settings: the config file's path, and the
# token the CLI's remote mode sends (cli.remote).
CLIENT_ENV = frozenset({ENV_PREFIX + "CONFIG", ENV_PREFIX + "TOKEN"})


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of cargohold. Paths are absolute after ``load_settings``."""

    data_dir: str = DEFAULT_DATA_DIR
    listen: str = "127.0.0.1:5000"
    # External URL clients use (token realm, Location headers are relative anyway, UI links).
    base_url: str = ""
    database_url: str = ""  # default: sqlite in data_dir
    storage: str = "filesystem"
    storage_root: str = ""  # default: <data_dir>/storage
    # Filesystem storage: write upload bytes with O_DIRECT, bypassing the page cache, where the
    # filesystem allows it (storage/_direct.py has the measurements behind the default). Pushes
    # are faster; the first pull of a new blob reads it from disk (on a freshly booted VM that
    # pull costs what the push saved: README, Benchmarks). False: blobs pulled as soon as pushed.
    storage_direct_writes: bool = True
    workers: int = 1
    # uvloop is faster for small requests, but has no native loop.sendfile (blob GETs would be
    # copied through Python); "asyncio" keeps the kernel's sendfile. See benchmarks/.
    event_loop: str = "asyncio"
    auth_enabled: bool = True
    service: str = ""  # token service name; default: host:port of base_url
    # Secret from which the bearer-token signing key and the credential-hash key derive. Generated
    # into <data_dir>/secret.key on first start when empty; replicas must share it.
    secret_key: str = ""
    bearer_ttl: int = 300
    job_token_ttl: int = 3600
    job_token_max_ttl: int = 86400
    admin_user: str = "admin"
    admin_token: str = ""  # a chp_ secret to give the first admin instead of a generated one
    max_manifest_bytes: int = 4 * 1024 * 1024
    upload_stale_after: int = 86400
    # Audit rows older than this many days are deleted (0 keeps them all).
    audit_retention_days: int = 90
    # Garbage collection (registry.gc): unreferenced content older than the grace period goes;
    # every replica runs a collection every gc_interval seconds (0: only `cargohold gc`).
    gc_grace_period: int = 86400
    gc_interval: int = 3600
    db_threads: int = 8
    # Slow clients (security finding 9). A connection must send a complete header block within
    # header_timeout seconds of opening (or of its previous response); aiohttp's keep-alive
    # timeout is the same clock, so an idle keep-alive connection also closes after it. A
    # request body that stalls for body_timeout seconds (no byte arrives while the server waits
    # for one) closes the connection. Each worker process accepts at most
    # max_connections_per_client connections from one client address at once; more are closed
    # at once (one host running 32 parallel pulls stays well below the default).
    header_timeout: int = 30
    body_timeout: int = 60
    max_connections_per_client: int = 256
    log_level: str = "info"
    # storage = "s3": an S3-compatible bucket. Credentials come from CARGOHOLD_S3_ACCESS_KEY_ID /
    # CARGOHOLD_S3_SECRET_ACCESS_KEY or from s3_credentials_file (TOML with access_key_id and
    # secret_access_key); they are never shown in repr or logs.
    s3_endpoint: str = ""  # e.g. http://127.0.0.1:8333; empty means AWS
    s3_region: str = "us-east-1"
    s3_bucket: str = ""
    s3_prefix: str = ""
    s3_path_style: bool = True
    s3_part_size: int = 16 * 1024 * 1024
    s3_credentials_file: str = ""
    s3_access_key_id: str = field(default="", repr=False)
    s3_secret_access_key: str = field(default="", repr=False)
    # Answer blob GETs with 307 to a pre-signed URL of the store (S3 only), like distribution's
    # `redirect`; the client then sends its Range to the store itself.
    storage_redirect: bool = False
    # A deleted package or version can be restored for this many days (GitHub: 30); then the
    # garbage collector purges it and its name becomes free.
    restore_window_days: int = 30
    # Built-in TLS (web.tls): PEM certificate chain and key; reloaded on SIGHUP.
    tls_cert: str = ""
    tls_key: str = ""
    # Web UI session cookie: Secure always when true, else only when base_url is https.
    cookie_secure: bool = False

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)

    @property
    def external_url(self) -> str:
        if self.base_url:
            return self.base_url.rstrip("/")
        host, port = self.host_port
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        return f"{'https' if self.tls_cert else 'http'}://{shown}:{port}"

    @property
    def service_name(self) -> str:
        if self.service:
            return self.service
        return self.external_url.split("://", 1)[-1]

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{Path(self.data_dir) / 'cargohold.db'}"

    @property
    def blob_root(self) -> str:
        return self.storage_root or str(Path(self.data_dir) / "storage")


def _coerce(name: str, kind: Any, raw: Any) -> Any:
    try:
        if kind in (bool, "bool"):
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind in (int, "int"):
            if isinstance(raw, bool):
                raise ValueError(raw)
            return int(raw)
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {name!r}: invalid value {raw!r} (expected {kind})") from exc


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    config_file: str | None = None,
) -> Settings:
    """Build the settings. ``overrides`` with value None are ignored (unset CLI flags)."""
    env = os.environ if environ is None else environ
    types = {f.name: f.type for f in fields(Settings)}
    values: dict[str, Any] = {}
    given = {k: v for k, v in (overrides or {}).items() if v is not None}

    # CARGOHOLD_TEST_* belong to the test suite (e.g. where screenshots go), not to cargohold.
    env_values = {
        key[len(ENV_PREFIX) :].lower(): value
        for key, value in env.items()
        if key.startswith(ENV_PREFIX)
        and key not in CLIENT_ENV
        and not key.startswith(ENV_PREFIX + "TEST_")
    }
    data_dir = given.get("data_dir") or env_values.get("data_dir") or DEFAULT_DATA_DIR
    path = config_file or env.get(ENV_PREFIX + "CONFIG")
    if path is None and (Path(data_dir) / "cargohold.toml").is_file():
        path = str(Path(data_dir) / "cargohold.toml")
    if path:
        try:
            with open(path, "rb") as fh:
                file_values = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"config file {path}: {exc}") from exc
        for key, value in file_values.items():
            if key not in types:
                raise ConfigError(f"config file {path}: unknown setting {key!r}")
            values[key] = _coerce(key, types[key], value)
    for key, value in env_values.items():
        if key not in types:
            raise ConfigError(f"environment: unknown setting {ENV_PREFIX}{key.upper()}")
        values[key] = _coerce(ENV_PREFIX + key.upper(), types[key], value)
    for key, value in given.items():
        if key not in types:
            raise ConfigError(f"unknown setting {key!r}")
        values[key] = _coerce(key, types[key], value)

    settings = Settings(**values)
    settings = dataclasses.replace(settings, data_dir=str(Path(settings.data_dir).resolve()))
    _validate(settings)
    return settings


def _validate(s: Settings) -> None:
    _host, sep, port = s.listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"setting 'listen': expected HOST:PORT, got {s.listen!r}")
    if s.audit_retention_days < 0:
        raise ConfigError("setting 'audit_retention_days': must be 0 (keep all) or more")
    if s.workers < 1:
        raise ConfigError("setting 'workers': must be at least 1")
    if s.bearer_ttl < 10:
        raise ConfigError("setting 'bearer_ttl': must be at least 10 seconds")
    if not 0 < s.job_token_ttl <= s.job_token_max_ttl <= 86400:
        raise ConfigError("setting 'job_token_ttl': must be > 0 and <= job_token_max_ttl <= 86400")
    if s.event_loop not in ("asyncio", "uvloop"):
        raise ConfigError(f"setting 'event_loop': asyncio or uvloop, not {s.event_loop!r}")
    for name in ("header_timeout", "body_timeout", "max_connections_per_client"):
        if getattr(s, name) < 1:
            raise ConfigError(f"setting {name!r}: must be at least 1")
    if s.storage not in ("filesystem", "memory", "s3"):
        raise ConfigError(f"setting 'storage': unknown backend {s.storage!r}")
    if s.storage == "s3":
        if not s.s3_bucket:
            raise ConfigError("setting 's3_bucket': required when storage = \"s3\"")
        if not s.s3_credentials_file and not (s.s3_access_key_id and s.s3_secret_access_key):
            raise ConfigError(
                "setting 's3_credentials_file' (or CARGOHOLD_S3_ACCESS_KEY_ID and "
                "CARGOHOLD_S3_SECRET_ACCESS_KEY): S3 credentials are required"
            )
