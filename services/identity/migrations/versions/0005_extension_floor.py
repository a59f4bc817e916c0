"""the account's extension floor: every automatic number below it is taken

Revision ID: 0005_extension_floor
Revises: 0004_lifecycle
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_extension_floor"
down_revision = "0004_lifecycle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # null: not known yet, the next automatic numbering starts from the range's start
    op.add_column("accounts", sa.Column("extension_floor", sa.BigInteger, nullable=True))


def downgrade() -> None:
    op.drop_column("accounts", "extension_floor")
