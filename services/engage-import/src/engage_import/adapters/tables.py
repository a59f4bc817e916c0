"""The engage-import service's schema, declared once: every table, index and constraint
the migrations create is here, with the same name
(tests/integration/test_schema_matches_metadata.py compares the migrated database with
this metadata). Indexes that carry a business rule say which one."""

from __future__ import annotations

import sqlalchemy as sa
from shared.messaging.tables import add_messaging_tables
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData()
add_messaging_tables(metadata)

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
    # step 1 of an import: an account's users, paged by user id
    sa.Index("ix_directory_users_account", "account_id", "user_id"),
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
    # rule: an Engage account's name is unique among those linked to one phone-system
    # account, case-insensitively
    sa.Index("ux_engage_accounts_name", "account_id", sa.text("lower(name)"), unique=True),
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
    # rule: a role's name is unique in its Engage account, case-insensitively
    sa.Index("ux_roles_name", "engage_account_id", sa.text("lower(name)"), unique=True),
)

teams = sa.Table(
    "teams",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("engage_account_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
    # rule: a team's name is unique in its Engage account, case-insensitively
    sa.Index("ux_teams_name", "engage_account_id", sa.text("lower(name)"), unique=True),
)

categories = sa.Table(
    "categories",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("engage_account_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
    # rule: a category's name is unique in its Engage account, case-insensitively
    sa.Index("ux_categories_name", "engage_account_id", sa.text("lower(name)"), unique=True),
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
    # Enabled, or Disabled while its phone-system user is Disabled
    sa.Column("status", sa.String(20), nullable=False, server_default="Enabled"),
    sa.Column("updated_at", TS, nullable=True),
    # rule: a user is imported once into an Engage account (a re-import never duplicates:
    # the agents insert is ON CONFLICT DO NOTHING on this index)
    sa.Index("ux_agents_user", "engage_account_id", "user_id", unique=True),
    # rule: an agent's username is unique in its Engage account
    sa.Index("ux_agents_username", "engage_account_id", "username", unique=True),
    # the usernames taken from one base, to pick the next free suffix
    sa.Index("ix_agents_username_base", "engage_account_id", "username_base"),
    # agents looked up by phone-system user, in any Engage account
    sa.Index("ix_agents_user_id", "user_id"),
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
    # the jobs still to work on, oldest first
    sa.Index(
        "ix_import_jobs_open",
        "created_at",
        "id",
        postgresql_where=sa.text("status <> 'finished'"),
    ),
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
    # a job's items still to import, in order
    sa.Index(
        "ix_import_items_pending",
        "import_id",
        "seq",
        postgresql_where=sa.text("status = 'pending'"),
    ),
)

# rule: an agent is signed in to one account at a time (DOMAIN.md section 5, Engage
# Voice): one row per login, the primary key (voice_sessions_pkey).
voice_sessions = sa.Table(
    "voice_sessions",
    metadata,
    sa.Column("login", sa.String(320), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("agent_id", sa.String(64), nullable=True),
    sa.Column("engage_account_id", sa.String(64), nullable=True),
    sa.Column("signed_in_at", TS, nullable=False, server_default=sa.func.now()),
    # sessions end when their user is disabled or removed, or their account suspended
    sa.Index("ix_voice_sessions_account", "account_id", "user_id"),
    # ... or when their agent is removed
    sa.Index("ix_voice_sessions_agent", "agent_id"),
)
