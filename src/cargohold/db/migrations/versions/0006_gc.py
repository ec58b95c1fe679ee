"""gc: blob and link generations, blob state, the collector's lease

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

- blobs.state ("live" | "deleting") and blobs.generation, package_blobs.generation,
  manifests.generation: the race-free garbage collection protocol (cargohold.registry.gc).
- ix_package_blobs_digest: "is this blob linked anywhere" without a scan.
- gc_lease: one collection at a time across replicas.
- retention_policies: keep-newest / untagged-age / protected-tag policies per owner or package.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch "move and copy"): it keeps the authz_version triggers.
    op.add_column(
        "blobs", sa.Column("state", sa.String(length=10), nullable=False, server_default="live")
    )
    for table in ("blobs", "package_blobs", "manifests"):
        op.add_column(
            table, sa.Column("generation", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.create_index("ix_package_blobs_digest", "package_blobs", ["digest"])
    op.create_table(
        "gc_lease",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_gc_lease")),
    )
    op.create_table(
        "retention_policies",
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("keep_newest", sa.Integer(), nullable=True),
        sa.Column("untagged_older_than", sa.BigInteger(), nullable=True),
        sa.Column("protect", sa.String(length=400), nullable=False, server_default=""),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "name", name=op.f("pk_retention_policies")),
    )


def downgrade() -> None:
    op.drop_table("retention_policies")
    op.drop_table("gc_lease")
    op.drop_index("ix_package_blobs_digest", table_name="package_blobs")
    for table in ("blobs", "package_blobs", "manifests"):
        op.drop_column(table, "generation")
    op.drop_column("blobs", "state")
