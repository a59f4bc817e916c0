"""invites, activation tokens, user and account projections

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

LIVE = "status IN ('Scheduled', 'Sent')"


def upgrade() -> None:
    op.create_table(
        "invites",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("send_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("local_send_at", sa.String(19), nullable=True),
        sa.Column("time_zone", sa.String(64), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_id", sa.String(64), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("ix_invites_account_id", "invites", ["account_id", "id"])
    op.create_index(
        "ux_invites_live_user", "invites", ["user_id"], unique=True, postgresql_where=sa.text(LIVE)
    )
    op.create_index(
        "ix_invites_due", "invites", ["due_at"], postgresql_where=sa.text("status = 'Scheduled'")
    )
    op.create_index(
        "ix_invites_expiring",
        "invites",
        ["expires_at"],
        postgresql_where=sa.text("status = 'Sent'"),
    )
    op.create_table(
        "invite_tokens",
        sa.Column("token_hash", sa.LargeBinary, primary_key=True),
        sa.Column("invite_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(10), nullable=False, server_default="live"),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_invite_tokens_live",
        "invite_tokens",
        ["invite_id"],
        postgresql_where=sa.text("state = 'live'"),
    )
    op.create_table(
        "users",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("first_name", sa.String(120), nullable=False, server_default=""),
        sa.Column("last_name", sa.String(120), nullable=False, server_default=""),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("removed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("version", sa.Integer, nullable=False, server_default="0"),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_table(
        "accounts",
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def downgrade() -> None:
    op.drop_table("accounts")
    op.drop_table("users")
    op.drop_index("ix_invite_tokens_live", table_name="invite_tokens")
    op.drop_table("invite_tokens")
    op.drop_index("ix_invites_expiring", table_name="invites")
    op.drop_index("ix_invites_due", table_name="invites")
    op.drop_index("ux_invites_live_user", table_name="invites")
    op.drop_index("ix_invites_account_id", table_name="invites")
    op.drop_table("invites")
