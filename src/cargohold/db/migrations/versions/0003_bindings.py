"""bindings: upload claims, runner scopes, minting runner, pending source-label link

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

- uploads.claim / claimed_at: one request at a time writes to an upload session.
- runner_scopes: the owners or repositories a runner credential serves.
- credentials.minted_by: the runner that minted a job token (it alone may revoke it).
- packages.source_link_pending: only the push that created a package links it by label.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch "move and copy"): it keeps the authz_version triggers.
    op.add_column("uploads", sa.Column("claim", sa.String(length=32), nullable=True))
    op.add_column("uploads", sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("credentials", sa.Column("minted_by", sa.String(length=40), nullable=True))
    op.add_column(
        "packages",
        sa.Column("source_link_pending", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "runner_scopes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("runner_id", sa.String(length=40), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("repo_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["runner_id"],
            ["credentials.id"],
            name=op.f("fk_runner_scopes_runner_id_credentials"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["accounts.id"],
            name=op.f("fk_runner_scopes_owner_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["repo_id"], ["repositories.id"], name=op.f("fk_runner_scopes_repo_id_repositories")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runner_scopes")),
        sa.UniqueConstraint("runner_id", "owner_id", "repo_id", name="uq_runner_scopes_target"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("runner_scopes")
    with op.batch_alter_table("packages") as batch:
        batch.drop_column("source_link_pending")
    with op.batch_alter_table("credentials") as batch:
        batch.drop_column("minted_by")
    with op.batch_alter_table("uploads") as batch:
        batch.drop_column("claimed_at")
        batch.drop_column("claim")
