"""The composition root: builds every service from the settings, once per process."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import Connection, Engine

from cargohold.accounts.account_service import AccountService
from cargohold.accounts.admin_service import AdminService
from cargohold.accounts.authn import Authenticator
from cargohold.accounts.bearer import Verifier
from cargohold.accounts.personal_tokens import PersonalTokens
from cargohold.accounts.secrets import Keys, derive_keys, load_or_create_server_secret
from cargohold.accounts.signin_service import SignInService
from cargohold.accounts.token_service import TokenService
from cargohold.audit.log import AuditBuffer, AuditEntry, AuditService
from cargohold.authz.memo import StateMemo
from cargohold.db.engine import make_engine, migrate
from cargohold.db.raw import Reader
from cargohold.db.runner import Database
from cargohold.errors import ConfigError
from cargohold.registry.access_service import AccessService
from cargohold.registry.blob_service import BlobService
from cargohold.registry.catalog_service import CatalogService
from cargohold.registry.explain_service import ExplainService
from cargohold.registry.gc_service import GcService
from cargohold.registry.lifecycle_service import LifecycleService
from cargohold.registry.manifest_service import ManifestService
from cargohold.registry.package_service import PackageService
from cargohold.registry.retention_service import RetentionService
from cargohold.registry.settings_service import PackageSettingsService
from cargohold.registry.upload_service import UploadService
from cargohold.registry.uploads import RunningHashes
from cargohold.registry.views import PackageViews
from cargohold.settings import Settings
from cargohold.storage.protocol import BlobStore
from cargohold.storage.registry import open_store

T = TypeVar("T")


@dataclass
class Services:
    """Everything a process serves with; adapters call the domain services on it."""

    settings: Settings
    db: Database
    store: BlobStore
    keys: Keys
    bearer: Verifier
    memo: StateMemo
    hashes: RunningHashes
    audit_buffer: AuditBuffer | None
    packages: PackageService
    blobs: BlobService
    uploads: UploadService
    manifests: ManifestService
    package_settings: PackageSettingsService
    access: AccessService
    accounts: AccountService
    tokens: TokenService
    audit_log: AuditService
    authn: Authenticator
    catalog: CatalogService
    lifecycle: LifecycleService
    explain: ExplainService
    admin: AdminService
    signin: SignInService
    views: PackageViews
    personal_tokens: PersonalTokens
    gc: GcService
    retention: RetentionService

    @property
    def engine(self) -> Engine:
        return self.db.engine

    def audit(self, entry: AuditEntry) -> None:
        if self.audit_buffer is not None:
            self.audit_buffer.add(entry)

    def read_on_loop(self, fn: Callable[[Reader], T]) -> T:
        """Hot-path reads inline ON THE EVENT LOOP (see ``Database.read_on_loop``)."""
        return self.db.read_on_loop(fn)

    async def write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in a write transaction on a DB thread."""
        return await self.db.write(fn)

    async def run(self, fn: Callable[[], T]) -> T:
        """Run blocking work (storage I/O, hashing) on a worker thread."""
        return await self.db.blocking(fn)

    def close(self) -> None:
        if self.audit_buffer is not None:
            self.audit_buffer.close()
        self.db.close()


def configured_store(settings: Settings) -> BlobStore:
    """The blob store the settings name (filesystem under ``blob_root`` by default)."""
    if settings.storage == "filesystem":
        return open_store(
            "filesystem", root=settings.blob_root, direct_writes=settings.storage_direct_writes
        )
    if settings.storage == "s3":
        key_id, secret = s3_credentials(settings)
        return open_store(
            "s3",
            endpoint=settings.s3_endpoint,
            region=settings.s3_region,
            bucket=settings.s3_bucket,
            prefix=settings.s3_prefix,
            path_style=settings.s3_path_style,
            part_size=settings.s3_part_size,
            redirect=settings.storage_redirect,
            access_key_id=key_id,
            secret_access_key=secret,
        )
    return open_store(settings.storage)


def s3_credentials(settings: Settings) -> tuple[str, str]:
    """The S3 access key id and secret: from the settings (environment), else from
    ``s3_credentials_file``. Raises ``ConfigError`` naming the file, never a secret."""
    if settings.s3_access_key_id and settings.s3_secret_access_key:
        return settings.s3_access_key_id, settings.s3_secret_access_key
    path = settings.s3_credentials_file
    try:
        with open(path, "rb") as fh:
            values = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"setting 's3_credentials_file': cannot read {path}: {exc}") from exc
    key_id, secret = values.get("access_key_id"), values.get("secret_access_key")
    if not isinstance(key_id, str) or not isinstance(secret, str) or not key_id or not secret:
        raise ConfigError(
            f"setting 's3_credentials_file': {path} needs access_key_id and secret_access_key"
        )
    return key_id, secret


def build(
    settings: Settings,
    *,
    run_migrations: bool = True,
    audit_writer: bool = True,
    db_threads: int | None = None,
) -> Services:
    """Every service of one process. The local CLI passes ``audit_writer=False`` (it makes no
    decisions to audit) and one DB thread."""
    threads = db_threads or settings.db_threads
    engine = make_engine(settings.db_url, pool_size=threads)
    if run_migrations:
        migrate(engine)
    store = configured_store(settings)
    keys = derive_keys(load_or_create_server_secret(settings.data_dir, settings.secret_key))
    db = Database(engine, threads)
    verifier = Verifier(keys.signing_key, settings.service_name)
    memo = StateMemo()
    hashes = RunningHashes()
    window = timedelta(days=settings.restore_window_days)
    packages = PackageService(db, restore_window=window)
    days = settings.audit_retention_days
    buffer = (
        AuditBuffer(engine, retention=timedelta(days=days) if days else None)
        if settings.auth_enabled and audit_writer
        else None
    )
    audit = buffer.add if buffer is not None else _no_audit
    tokens = TokenService(
        db,
        keys,
        job_ttl=timedelta(seconds=settings.job_token_ttl),
        job_max_ttl=timedelta(seconds=settings.job_token_max_ttl),
        audit=audit,
    )
    return Services(
        settings=settings,
        db=db,
        store=store,
        keys=keys,
        bearer=verifier,
        memo=memo,
        hashes=hashes,
        audit_buffer=buffer,
        packages=packages,
        blobs=BlobService(db, packages),
        uploads=UploadService(db, store, hashes, packages),
        manifests=ManifestService(db, store, packages),
        package_settings=PackageSettingsService(db, base_url=settings.external_url, audit=audit),
        access=AccessService(db),
        accounts=AccountService(db),
        tokens=tokens,
        audit_log=AuditService(db),
        authn=Authenticator(keys, verifier, settings.service_name, memo, audit),
        catalog=CatalogService(db, memo, base_url=settings.external_url),
        lifecycle=LifecycleService(
            db, base_url=settings.external_url, audit=audit, restore_window=window
        ),
        explain=ExplainService(db, base_url=settings.external_url, audit=audit),
        admin=AdminService(db, tokens),
        signin=SignInService(db, keys, host=settings.service_name),
        views=PackageViews(db, store, base_url=settings.external_url),
        personal_tokens=PersonalTokens(db, tokens),
        gc=GcService(db, store, timedelta(seconds=settings.gc_grace_period), restore_window=window),
        retention=RetentionService(db),
    )


def _no_audit(entry: AuditEntry) -> None:
    """Where decisions go when nothing audits them (auth off, the local CLI)."""
