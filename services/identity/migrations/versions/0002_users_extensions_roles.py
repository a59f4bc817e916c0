"""extensions, users, custom roles, sites and cost centers, sign-in throttling

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _ts(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("site_id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
    )
    op.create_table(
        "cost_centers",
        sa.Column("cost_center_id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
    )
    op.create_table(
        "roles",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("permissions", JSONB, nullable=False),
        sa.Column("international_calling", sa.Boolean, nullable=False),
        _ts("created_at"),
    )
    op.create_index(
        "uq_roles_account_name", "roles", ["account_id", sa.text("lower(name)")], unique=True
    )
    op.create_table(
        "extensions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("number", sa.String(8), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=True),
        _ts("created_at"),
    )
    op.create_index("uq_extensions_number", "extensions", ["account_id", "number"], unique=True)
    op.create_index("ix_extensions_account_id", "extensions", ["account_id", "id"])
    op.create_table(
        "users",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("extension_id", sa.String(64), nullable=False),
        sa.Column("extension_number", sa.String(8), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("first_name", sa.String(64), nullable=False),
        sa.Column("last_name", sa.String(64), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("exclusive_email", sa.Boolean, nullable=False),
        sa.Column("user_type", sa.String(20), nullable=False),
        sa.Column("role_id", sa.String(64), nullable=False),
        sa.Column("role_name", sa.String(120), nullable=False),
        sa.Column("setup_option", sa.String(30), nullable=False),
        sa.Column("profile", JSONB, nullable=False),
        sa.Column("needs_emergency_location", sa.Boolean, nullable=False),
        sa.Column("must_change_password", sa.Boolean, nullable=False),
        sa.Column("password_hash", sa.Text, nullable=True),
        sa.Column("pin_hash", sa.Text, nullable=True),
        sa.Column("security_question", sa.String(200), nullable=True),
        sa.Column("security_answer_hash", sa.Text, nullable=True),
        sa.Column("invite", JSONB, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_index("uq_users_extension", "users", ["extension_id"], unique=True)
    # One user per email inside an account, always.
    op.create_index(
        "uq_users_account_email", "users", ["account_id", sa.text("lower(email)")], unique=True
    )
    # One user per email across all accounts that require unique emails.
    op.create_index(
        "uq_users_exclusive_email",
        "users",
        [sa.text("lower(email)")],
        unique=True,
        postgresql_where=sa.text("exclusive_email"),
    )
    op.create_index("ix_users_email", "users", [sa.text("lower(email)")])
    op.create_index("ix_users_account_id", "users", ["account_id", "id"])
    op.create_table(
        "login_throttle",
        sa.Column("email", sa.String(320), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        _ts("updated_at"),
    )
    op.create_table(
        "provisioning_requests",
        sa.Column("request_id", sa.String(128), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(20), nullable=False),
        _ts("created_at"),
    )


def downgrade() -> None:
    op.drop_table("provisioning_requests")
    op.drop_table("login_throttle")
    op.drop_table("users")
    op.drop_table("extensions")
    op.drop_table("roles")
    op.drop_table("cost_centers")
    op.drop_table("sites")
