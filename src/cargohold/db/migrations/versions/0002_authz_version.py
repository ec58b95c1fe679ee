"""authz_version and the triggers that bump it

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

Every change to what the permission decision reads bumps authz_version.version in the same
transaction, whoever makes it, so per-process memos of that state stay exact (authz.memo).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cargohold.db.schema import AUTHZ_CREDENTIAL_COLUMNS, AUTHZ_TABLES

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BUMP = "UPDATE authz_version SET version = version + 1 WHERE id = 1"


def _events(table: str) -> list[tuple[str, str]]:
    """(suffix, event clause) pairs; credentials' updates only for the columns that matter."""
    if table == "credentials":
        return [
            ("i", "INSERT"),
            ("d", "DELETE"),
            ("u", f"UPDATE OF {', '.join(AUTHZ_CREDENTIAL_COLUMNS)}"),
        ]
    return [("i", "INSERT"), ("d", "DELETE"), ("u", "UPDATE")]


def upgrade() -> None:
    op.create_table(
        "authz_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authz_version")),
    )
    op.execute("INSERT INTO authz_version (id, version) VALUES (1, 0)")
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(
            "CREATE FUNCTION authz_bump() RETURNS trigger LANGUAGE plpgsql AS"
            f" $$ BEGIN {BUMP}; RETURN NULL; END $$"
        )
    for table in AUTHZ_TABLES:
        for suffix, event in _events(table):
            name = f"authz_bump_{table}_{suffix}"
            if postgres:
                op.execute(
                    f"CREATE TRIGGER {name} AFTER {event} ON {table}"
                    " FOR EACH STATEMENT EXECUTE FUNCTION authz_bump()"
                )
            else:
                op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN {BUMP}; END")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in AUTHZ_TABLES:
        for suffix, _ in _events(table):
            name = f"authz_bump_{table}_{suffix}"
            op.execute(f"DROP TRIGGER {name} ON {table}" if postgres else f"DROP TRIGGER {name}")
    if postgres:
        op.execute("DROP FUNCTION authz_bump()")
    op.drop_table("authz_version")
