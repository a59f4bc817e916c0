"""agents.status and updated_at (agents follow their phone-system user); voice sessions
looked up by account, user and agent (they end when those do)

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "agents",
        sa.Column("status", sa.String(20), nullable=False, server_default="Enabled"),
    )
    op.add_column("agents", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_voice_sessions_account", "voice_sessions", ["account_id", "user_id"])
    op.create_index("ix_voice_sessions_agent", "voice_sessions", ["agent_id"])


def downgrade() -> None:
    op.drop_index("ix_voice_sessions_agent", "voice_sessions")
    op.drop_index("ix_voice_sessions_account", "voice_sessions")
    op.drop_column("agents", "updated_at")
    op.drop_column("agents", "status")
