"""passwords: users' password hashes and failed sign-ins for rate limiting

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

- accounts.password_hash: argon2id hash (users only; NULL = no password, sign in with a PAT).
- signin_failures: one row per failed web sign-in, keyed by "user:LOGIN" and "addr:IP", so
  every replica counts the same failures.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch "move and copy"): it keeps the authz_version triggers.
    op.add_column("accounts", sa.Column("password_hash", sa.String(length=200), nullable=True))
    op.create_table(
        "signin_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signin_failures")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_signin_failures_key", "signin_failures", ["key", "at"])


def downgrade() -> None:
    op.drop_index("ix_signin_failures_key", table_name="signin_failures")
    op.drop_table("signin_failures")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("password_hash")
