"""The relational schema (SQLAlchemy Core), shared by SQLite and PostgreSQL.

Accounts (users and organizations share one namespace of logins, as on GitHub), teams, source
repositories, packages and their grants, credentials, the OCI metadata, upload sessions and the
audit log. Every OCI repository path *is* a package (``owner/name[/more]``), so OCI rows hang off
``packages.id``.

Source repositories are never hard-deleted: ``deleted_at`` is set and a new repository with the
same name gets a new id. Grants refer to ids, so a re-created repository does not regain access
(GHCR's behaviour); the kept row lets a denial explain why.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

TS = DateTime(timezone=True)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("login", String(100), nullable=False, unique=True),
    Column("kind", String(10), nullable=False),  # "user" | "org"
    Column("site_admin", Boolean, nullable=False, default=False),
    # organization settings (NULL for users)
    Column("member_create_visibilities", String(40), nullable=True),  # "public,private,internal"
    Column("default_visibility", String(10), nullable=False, default="private"),
    Column("inherit_default", Boolean, nullable=False, default=True),
    Column("default_job_permission", String(12), nullable=False, default="restricted"),
    Column("created_at", TS, nullable=False),
    Column("password_hash", String(200), nullable=True),  # argon2id; users only (0005)
    sqlite_autoincrement=True,
)

org_members = Table(
    "org_members",
    metadata,
    Column("org_id", ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(10), nullable=False),  # "owner" | "member"
)

teams = Table(
    "teams",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("org_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("slug", String(100), nullable=False),
    UniqueConstraint("org_id", "slug", name="uq_teams_org_slug"),
    sqlite_autoincrement=True,
)

team_members = Table(
    "team_members",
    metadata,
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
)

repositories = Table(
    "repositories",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("owner_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("visibility", String(10), nullable=False, default="private"),
    Column("created_at", TS, nullable=False),
    Column("deleted_at", TS, nullable=True),
    sqlite_autoincrement=True,
)
# One live repository per name; deleted ones keep their row (and id) for explanations.
Index(
    "uq_repositories_live_name",
    repositories.c.owner_id,
    repositories.c.name,
    unique=True,
    sqlite_where=text("deleted_at IS NULL"),
    postgresql_where=text("deleted_at IS NULL"),
)

repo_collaborators = Table(
    "repo_collaborators",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("repo_id", ForeignKey("repositories.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True),
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), nullable=True),
    Column("role", String(10), nullable=False),
    UniqueConstraint("repo_id", "user_id", "team_id", name="uq_repo_collaborators_subject"),
)

packages = Table(
    "packages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("owner_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False, unique=True),  # full OCI path "owner/name/more"
    Column("visibility", String(10), nullable=False, default="private"),
    Column("linked_repo_id", ForeignKey("repositories.id"), nullable=True),
    Column("inherit", Boolean, nullable=False, default=False),
    Column("publisher_user_id", ForeignKey("accounts.id"), nullable=True),
    Column("publisher_repo_id", ForeignKey("repositories.id"), nullable=True),
    Column("created_at", TS, nullable=False),
    # True from creation until the first manifest: only that push, by the creator, may link the
    # package by its image's source label (a later writer must never gain a link by a label).
    Column("source_link_pending", Boolean, nullable=False, default=False, server_default=false()),
    # Soft delete (migration 0004, registry.lifecycle): restorable for ``restore_window_days``,
    # meanwhile neither pullable nor listed, and its name stays reserved until purged.
    Column("deleted_at", TS, nullable=True),
    Column("deleted_by", String(200), nullable=True),
    sqlite_autoincrement=True,
)

package_grants = Table(
    "package_grants",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("package_id", ForeignKey("packages.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True),
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), nullable=True),
    Column("role", String(10), nullable=False),
    UniqueConstraint("package_id", "user_id", "team_id", name="uq_package_grants_subject"),
)

package_actions_access = Table(
    "package_actions_access",
    metadata,
    Column("package_id", ForeignKey("packages.id", ondelete="CASCADE"), primary_key=True),
    Column("repo_id", ForeignKey("repositories.id"), primary_key=True),
    Column("role", String(10), nullable=False),
)

credentials = Table(
    "credentials",
    metadata,
    Column("id", String(40), primary_key=True),  # public id, e.g. "chp_1a2b3c4d" prefix part
    Column("kind", String(10), nullable=False),  # "pat" | "job" | "runner"
    Column("secret_hash", String(128), nullable=False),  # HMAC-SHA256 of the secret
    Column("user_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True),
    Column("repo_id", ForeignKey("repositories.id"), nullable=True),
    Column("name", String(200), nullable=True),
    Column("scopes", String(200), nullable=False, default=""),  # PAT scopes, comma-separated
    Column("permissions", String(200), nullable=False, default=""),  # job: "packages=write,..."
    Column("run_id", String(100), nullable=True),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=True),
    Column("revoked_at", TS, nullable=True),
    Column("last_used_at", TS, nullable=True),
    # job tokens minted through the runner API: the runner credential that minted them
    Column("minted_by", String(40), nullable=True),
)

# Which owners (all their repositories, repo_id NULL) or repositories a runner credential serves;
# a runner mints job tokens only for those.
runner_scopes = Table(
    "runner_scopes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("runner_id", ForeignKey("credentials.id", ondelete="CASCADE"), nullable=False),
    Column("owner_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("repo_id", ForeignKey("repositories.id"), nullable=True),
    UniqueConstraint("runner_id", "owner_id", "repo_id", name="uq_runner_scopes_target"),
    sqlite_autoincrement=True,
)

blobs = Table(
    "blobs",
    metadata,
    Column("digest", String(140), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("created_at", TS, nullable=False),
    # Garbage collection (registry.gc): "live" or "deleting" (bytes being removed from the
    # store); every new link bumps the generation, which the collector's mark must still see.
    Column("state", String(10), nullable=False, server_default="live"),
    Column("generation", BigInteger, nullable=False, server_default="0"),
)

package_blobs = Table(
    "package_blobs",
    metadata,
    Column("package_id", ForeignKey("packages.id", ondelete="CASCADE"), primary_key=True),
    Column("digest", ForeignKey("blobs.digest"), primary_key=True),
    Column("created_at", TS, nullable=False),
    # Bumped by every manifest PUT that references the link (registry.gc).
    Column("generation", BigInteger, nullable=False, server_default="0"),
)
# The collector asks "does any package link this blob?" (registry.gc).
Index("ix_package_blobs_digest", package_blobs.c.digest)

manifests = Table(
    "manifests",
    metadata,
    Column("package_id", ForeignKey("packages.id", ondelete="CASCADE"), primary_key=True),
    Column("digest", String(140), primary_key=True),
    Column("media_type", String(200), nullable=False),
    Column("size", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("artifact_type", String(200), nullable=True),
    Column("subject_digest", String(140), nullable=True),
    Column("annotations", Text, nullable=True),  # JSON object, for the referrers API
    Column("created_at", TS, nullable=False),
    # Soft delete of a version (migration 0004): its tags move to deleted_tags (a JSON list) so
    # tag reads need no filter; restore puts back those still free.
    Column("deleted_at", TS, nullable=True),
    Column("deleted_by", String(200), nullable=True),
    Column("deleted_tags", Text, nullable=True),
    # Bumped by every PUT of this manifest or of an index listing it (registry.gc).
    Column("generation", BigInteger, nullable=False, server_default="0"),
)
Index("ix_manifests_subject", manifests.c.package_id, manifests.c.subject_digest)

# What a manifest references: blobs (config, layers) and child manifests (index entries).
manifest_refs = Table(
    "manifest_refs",
    metadata,
    Column("package_id", ForeignKey("packages.id", ondelete="CASCADE"), primary_key=True),
    Column("parent_digest", String(140), primary_key=True),
    Column("child_digest", String(140), primary_key=True),
    Column("kind", String(10), nullable=False),  # "blob" | "manifest"
)
Index("ix_manifest_refs_child", manifest_refs.c.package_id, manifest_refs.c.child_digest)

tags = Table(
    "tags",
    metadata,
    Column("package_id", ForeignKey("packages.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("digest", String(140), nullable=False),
    Column("updated_at", TS, nullable=False),
)

uploads = Table(
    "uploads",
    metadata,
    Column("id", String(64), primary_key=True),  # session id in the Location URL
    Column("package_id", ForeignKey("packages.id", ondelete="CASCADE"), nullable=False),
    Column("storage_id", String(64), nullable=False),  # the blob store's upload id
    Column("size", BigInteger, nullable=False, default=0),
    Column("created_by", String(40), nullable=True),  # credential id; only it may continue
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    # A request writing to the session holds the claim; others get 416 (see registry.uploads).
    Column("claim", String(32), nullable=True),
    Column("claimed_at", TS, nullable=True),
)

# The garbage collector's lease: one row per job ("gc"); a collector runs only while it holds
# an unexpired lease, so one collection runs at a time across every replica.
gc_lease = Table(
    "gc_lease",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("holder", String(64), nullable=True),
    Column("expires_at", TS, nullable=True),
)

# Retention policies (registry.retention), per owner ("acme") or per package ("acme/app"); a
# package's own policy replaces its owner's. protect: comma-separated tag patterns (fnmatch).
retention_policies = Table(
    "retention_policies",
    metadata,
    Column("kind", String(10), primary_key=True),  # "owner" | "package"
    Column("name", String(255), primary_key=True),
    Column("keep_newest", Integer, nullable=True),
    Column("untagged_older_than", BigInteger, nullable=True),  # seconds
    Column("protect", String(400), nullable=False, server_default=""),
    Column("updated_at", TS, nullable=False),
)

# One row (id 1) whose version database triggers bump whenever anything the permission decision
# reads changes (migration 0002 lists the tables); processes memoise state per version.
authz_version = Table(
    "authz_version",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", BigInteger, nullable=False),
)

# Tables whose changes bump authz_version, and for credentials only these columns' updates
# (last-use times are written constantly and decide nothing).
AUTHZ_TABLES = (
    "accounts",
    "org_members",
    "teams",
    "team_members",
    "repositories",
    "repo_collaborators",
    "packages",
    "package_grants",
    "package_actions_access",
    "credentials",
)
AUTHZ_CREDENTIAL_COLUMNS = ("revoked_at", "expires_at", "scopes", "permissions", "secret_hash")

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("at", TS, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("credential_id", String(40), nullable=True),
    Column("package", String(255), nullable=True),
    Column("action", String(20), nullable=False),
    Column("result", String(10), nullable=False),  # "allowed" | "denied"
    Column("gate", String(20), nullable=True),
    Column("reason", Text, nullable=True),
    # Identical allowed decisions within one flush window share a row (see audit.log).
    Column("count", Integer, nullable=False, default=1),
)
Index("ix_audit_log_package", audit_log.c.package, audit_log.c.id)

# Failed web sign-ins, keyed "user:LOGIN" and "addr:IP", for rate limiting shared by replicas.
signin_failures = Table(
    "signin_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False),
    Column("at", TS, nullable=False),
    sqlite_autoincrement=True,
)
Index("ix_signin_failures_key", signin_failures.c.key, signin_failures.c.at)
