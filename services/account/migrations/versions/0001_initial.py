"""accounts and the messaging tables

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from shared.messaging.tables import create_messaging_tables, drop_messaging_tables
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables(op)
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("plan", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="Active"),
        sa.Column("status_reason", sa.Text, nullable=True),
        sa.Column("multi_site", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("extension_length", sa.Integer, nullable=False, server_default="4"),
        sa.Column("settings", JSONB, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("ix_accounts_name_lower", "accounts", [sa.text("lower(name)")])


def downgrade() -> None:
    op.drop_index("ix_accounts_name_lower", table_name="accounts")
    op.drop_table("accounts")
    drop_messaging_tables(op)
