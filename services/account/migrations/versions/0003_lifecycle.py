"""lifecycle: each known user's site (a site with users cannot be removed); portals
listed by owner

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
    op.add_column("known_users", sa.Column("site_id", sa.String(64), nullable=True))
    op.create_index(
        "ix_known_users_site",
        "known_users",
        ["account_id", "site_id"],
        postgresql_where=sa.text("site_id IS NOT NULL AND NOT removed"),
    )
    op.create_index("ix_portals_owner", "portals", ["owner_user_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_portals_owner", table_name="portals")
    op.drop_index("ix_known_users_site", table_name="known_users")
    op.drop_column("known_users", "site_id")
