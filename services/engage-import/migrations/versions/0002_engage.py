"""links, directory and account projections, roles, teams, categories, agents,
import jobs, voice sessions

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

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("default_time_zone", sa.String(64), nullable=True),
        sa.Column("default_language", sa.String(35), nullable=True),
        sa.Column("facts", JSONB, nullable=False),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "directory_users",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("first_name", sa.String(120), nullable=False, server_default=""),
        sa.Column("last_name", sa.String(120), nullable=False, server_default=""),
        sa.Column("email", sa.String(320), nullable=False, server_default=""),
        sa.Column("status", sa.String(20), nullable=True),
        sa.Column("time_zone", sa.String(64), nullable=True),
        sa.Column("language", sa.String(35), nullable=True),
        sa.Column("removed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_directory_users_account", "directory_users", ["account_id", "user_id"])
    op.create_table(
        "engage_accounts",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("default_time_zone", sa.String(64), nullable=False),
        sa.Column("default_language", sa.String(35), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
    )
    op.create_index(
        "ux_engage_accounts_name",
        "engage_accounts",
        ["account_id", sa.text("lower(name)")],
        unique=True,
    )
    op.create_table(
        "roles",
        sa.Column("engage_account_id", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("permissions", JSONB, nullable=False),
        sa.Column("predefined", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
    )
    op.create_index(
        "ux_roles_name", "roles", ["engage_account_id", sa.text("lower(name)")], unique=True
    )
    for table in ("teams", "categories"):
        op.create_table(
            table,
            sa.Column("id", sa.String(64), primary_key=True),
            sa.Column("engage_account_id", sa.String(64), nullable=False),
            sa.Column("name", sa.String(120), nullable=False),
            sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        )
        op.create_index(
            f"ux_{table}_name", table, ["engage_account_id", sa.text("lower(name)")], unique=True
        )
    op.create_table(
        "agents",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("engage_account_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("first_name", sa.String(120), nullable=False),
        sa.Column("last_name", sa.String(120), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("username_base", sa.String(64), nullable=False),
        sa.Column("role_id", sa.String(64), nullable=False),
        sa.Column("team_ids", JSONB, nullable=False),
        sa.Column("category_ids", JSONB, nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("time_zone_mapping", JSONB, nullable=False),
        sa.Column("language_mapping", JSONB, nullable=False),
        sa.Column("import_id", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ux_agents_user", "agents", ["engage_account_id", "user_id"], unique=True)
    op.create_index("ux_agents_username", "agents", ["engage_account_id", "username"], unique=True)
    op.create_index("ix_agents_username_base", "agents", ["engage_account_id", "username_base"])
    op.create_index("ix_agents_user_id", "agents", ["user_id"])
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("engage_account_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("role_id", sa.String(64), nullable=False),
        sa.Column("team_ids", JSONB, nullable=False),
        sa.Column("category_ids", JSONB, nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("processed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("imported", sa.Integer, nullable=False, server_default="0"),
        sa.Column("already_imported", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rejected", sa.Integer, nullable=False, server_default="0"),
        sa.Column("requested_by", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
    )
    op.create_index(
        "ix_import_jobs_open",
        "import_jobs",
        ["created_at", "id"],
        postgresql_where=sa.text("status <> 'finished'"),
    )
    op.create_table(
        "import_items",
        sa.Column("import_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("agent_id", sa.String(64), nullable=True),
        sa.Column("username", sa.String(64), nullable=True),
        sa.Column("time_zone", JSONB, nullable=True),
        sa.Column("language", JSONB, nullable=True),
    )
    op.create_index(
        "ix_import_items_pending",
        "import_items",
        ["import_id", "seq"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "voice_sessions",
        sa.Column("login", sa.String(320), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=True),
        sa.Column("engage_account_id", sa.String(64), nullable=True),
        sa.Column("signed_in_at", TS, nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table("voice_sessions")
    op.drop_index("ix_import_items_pending", table_name="import_items")
    op.drop_table("import_items")
    op.drop_index("ix_import_jobs_open", table_name="import_jobs")
    op.drop_table("import_jobs")
    op.drop_table("agents")
    for table in ("categories", "teams"):
        op.drop_table(table)
    op.drop_table("roles")
    op.drop_table("engage_accounts")
    op.drop_table("directory_users")
    op.drop_table("accounts")
