"""lifecycle: soft delete and restore of packages and versions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

- packages.deleted_at / deleted_by: a deleted package, restorable within the restore window;
  its name stays reserved until the garbage collector purges it.
- manifests.deleted_at / deleted_by / deleted_tags: a deleted version and the tags it had.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch "move and copy"): it keeps the authz_version triggers.
    op.add_column("packages", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("packages", sa.Column("deleted_by", sa.String(length=200), nullable=True))
    op.add_column("manifests", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("manifests", sa.Column("deleted_by", sa.String(length=200), nullable=True))
    op.add_column("manifests", sa.Column("deleted_tags", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("manifests") as batch:
        batch.drop_column("deleted_tags")
        batch.drop_column("deleted_by")
        batch.drop_column("deleted_at")
    with op.batch_alter_table("packages") as batch:
        batch.drop_column("deleted_by")
        batch.drop_column("deleted_at")
