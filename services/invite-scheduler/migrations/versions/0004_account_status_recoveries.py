"""account status, unique-email rule and defaults; user language and time zone;
password recoveries

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

LIVE = "status IN ('Scheduled', 'Sent')"


def upgrade() -> None:
    op.add_column(
        "accounts", sa.Column("status", sa.String(20), nullable=False, server_default="Active")
    )
    op.add_column(
        "accounts",
        sa.Column("require_unique_email", sa.Boolean, nullable=False, server_default=sa.true()),
    )
    op.add_column("accounts", sa.Column("default_language", sa.String(35), nullable=True))
    op.add_column("accounts", sa.Column("default_time_zone", sa.String(64), nullable=True))
    op.add_column("users", sa.Column("language", sa.String(35), nullable=True))
    op.add_column("users", sa.Column("time_zone", sa.String(64), nullable=True))
    op.create_table(
        "recoveries",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("first_name", sa.String(120), nullable=False, server_default=""),
        sa.Column("last_name", sa.String(120), nullable=False, server_default=""),
        sa.Column("language", sa.String(35), nullable=True),
        sa.Column("time_zone", sa.String(64), nullable=True),
        sa.Column("token_hash", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_id", sa.String(64), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("answer_failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("ux_recoveries_token", "recoveries", ["token_hash"], unique=True)
    op.create_index(
        "ix_recoveries_due",
        "recoveries",
        ["due_at"],
        postgresql_where=sa.text("status = 'Scheduled'"),
    )
    op.create_index(
        "ix_recoveries_live_user", "recoveries", ["user_id"], postgresql_where=sa.text(LIVE)
    )


def downgrade() -> None:
    op.drop_table("recoveries")
    op.drop_column("users", "time_zone")
    op.drop_column("users", "language")
    op.drop_column("accounts", "default_time_zone")
    op.drop_column("accounts", "default_language")
    op.drop_column("accounts", "require_unique_email")
    op.drop_column("accounts", "status")
