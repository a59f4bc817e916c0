"""integrations (hashed tokens for directory requests); provisioning requests keyed
by account and request id

Revision ID: 0003_integrations
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_integrations"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "integrations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("role_id", sa.String(64), nullable=False),
        sa.Column("role_name", sa.String(120), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("token_prefix", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("token_hash", name="uq_integrations_token_hash"),
    )
    op.create_index("ix_integrations_account_id", "integrations", ["account_id", "id"])
    op.drop_constraint("provisioning_requests_pkey", "provisioning_requests", type_="primary")
    op.create_primary_key(
        "provisioning_requests_pkey", "provisioning_requests", ["account_id", "request_id"]
    )


def downgrade() -> None:
    op.drop_constraint("provisioning_requests_pkey", "provisioning_requests", type_="primary")
    # request ids were global before: keep one row per id
    op.execute(
        "DELETE FROM provisioning_requests a USING provisioning_requests b "
        "WHERE a.request_id = b.request_id AND a.ctid < b.ctid"
    )
    op.create_primary_key("provisioning_requests_pkey", "provisioning_requests", ["request_id"])
    op.drop_index("ix_integrations_account_id", table_name="integrations")
    op.drop_table("integrations")
