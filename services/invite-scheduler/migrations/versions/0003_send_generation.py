"""invites.send_generation: the token and Message-ID of a send are derived from it

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "invites",
        sa.Column("send_generation", sa.Integer, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_column("invites", "send_generation")
