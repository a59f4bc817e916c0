"""operators, account facts and the messaging tables

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
        "operators",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("uq_operators_email", "operators", [sa.text("lower(email)")], unique=True)
    op.create_table(
        "accounts",
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("plan", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("multi_site", sa.Boolean, nullable=False),
        sa.Column("extension_length", sa.Integer, nullable=False),
        sa.Column("require_unique_email", sa.Boolean, nullable=False),
        sa.Column("facts", JSONB, nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def downgrade() -> None:
    op.drop_table("accounts")
    op.drop_index("uq_operators_email", table_name="operators")
    op.drop_table("operators")
    drop_messaging_tables(op)
