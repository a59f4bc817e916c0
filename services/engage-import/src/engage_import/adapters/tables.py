from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData()

TS = sa.DateTime(timezone=True)

# What engage-import keeps of each phone-system account, from account events.
accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("default_time_zone", sa.String(64), nullable=True),
    sa.Column("default_language", sa.String(35), nullable=True),
    sa.Column("facts", JSONB, nullable=False),
    sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
)

# The directory projection: the phone-system users, from identity's user events.
directory_users = sa.Table(
    "directory_users",
    metadata,
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

engage_accounts = sa.Table(
    "engage_accounts",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("default_time_zone", sa.String(64), nullable=False),
    sa.Column("default_language", sa.String(35), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=True),
    sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
)

roles = sa.Table(
    "roles",
    metadata,
    sa.Column("engage_account_id", sa.String(64), primary_key=True),
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("permissions", JSONB, nullable=False),
    sa.Column("predefined", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
)

teams = sa.Table(
    "teams",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("engage_account_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
)

categories = sa.Table(
    "categories",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("engage_account_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
)

agents = sa.Table(
    "agents",
    metadata,
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

import_jobs = sa.Table(
    "import_jobs",
    metadata,
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

import_items = sa.Table(
    "import_items",
    metadata,
    sa.Column("import_id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("reason", sa.String(200), nullable=True),
    sa.Column("agent_id", sa.String(64), nullable=True),
    sa.Column("username", sa.String(64), nullable=True),
    sa.Column("time_zone", JSONB, nullable=True),
    sa.Column("language", JSONB, nullable=True),
    # a pending item whose user engage has not heard of yet is looked at again then
    sa.Column("retry_at", TS, nullable=True),
)

voice_sessions = sa.Table(
    "voice_sessions",
    metadata,
    sa.Column("login", sa.String(320), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("agent_id", sa.String(64), nullable=True),
    sa.Column("engage_account_id", sa.String(64), nullable=True),
    sa.Column("signed_in_at", TS, nullable=False, server_default=sa.func.now()),
)
