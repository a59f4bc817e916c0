from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData()

operators = sa.Table(
    "operators",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)

# What identity keeps of each account, from the account service's events.
accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("plan", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("multi_site", sa.Boolean, nullable=False),
    sa.Column("extension_length", sa.Integer, nullable=False),
    sa.Column("require_unique_email", sa.Boolean, nullable=False),
    sa.Column("facts", JSONB, nullable=False),
    sa.Column(
        "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)

sites = sa.Table(
    "sites",
    metadata,
    sa.Column("site_id", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False, index=True),
    sa.Column("name", sa.String(200), nullable=False),
)

cost_centers = sa.Table(
    "cost_centers",
    metadata,
    sa.Column("cost_center_id", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False, index=True),
    sa.Column("name", sa.String(200), nullable=False),
)

roles = sa.Table(
    "roles",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("permissions", JSONB, nullable=False),
    sa.Column("international_calling", sa.Boolean, nullable=False),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)

extensions = sa.Table(
    "extensions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("number", sa.String(8), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("user_id", sa.String(64), nullable=True),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)

users = sa.Table(
    "users",
    metadata,
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
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.Column(
        "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)

# Failed sign-ins per email (known or not), so throttling survives restarts, is
# shared by replicas and tells nobody whether an email exists.
login_throttle = sa.Table(
    "login_throttle",
    metadata,
    sa.Column("email", sa.String(320), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column(
        "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)

# Provisioning requests from other systems already handled (ingest dedupe by request_id).
# Keyed by account too: a request id names a request within one account, so no
# other account's principal can use it up.
provisioning_requests = sa.Table(
    "provisioning_requests",
    metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("request_id", sa.String(128), primary_key=True),
    sa.Column("user_id", sa.String(64), nullable=True),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)

# Other systems' credentials for directory requests (``ingest.directory.user.requested``):
# the token is shown once; only its SHA-256 is kept.
integrations = sa.Table(
    "integrations",
    metadata,
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
    sa.Index("ix_integrations_account_id", "account_id", "id"),
)
