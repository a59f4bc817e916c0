"""The identity service's schema, declared once: every table, index and constraint the
migrations create is here, with the same name (tests/integration/test_schema_matches_metadata.py
compares the migrated database with this metadata). Indexes that carry a business rule
say which one; repository.py turns their violations into ``conflict`` replies."""

from __future__ import annotations

import sqlalchemy as sa
from shared.messaging.tables import add_messaging_tables
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData()
add_messaging_tables(metadata)
# the user search's trigram index (migration 0004 creates the extension too)
sa.event.listen(
    metadata,
    "before_create",
    sa.DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm"),  # type: ignore[no-untyped-call]
)

operators = sa.Table(
    "operators",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    # rule: one operator per email, case-insensitively
    sa.Index("uq_operators_email", sa.text("lower(email)"), unique=True),
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
    # the role new users get when their entry names none (roles.set_default; null:
    # Standard User (International)); kept by identity, never overwritten by facts
    sa.Column("default_role_id", sa.String(64), nullable=True),
    # where automatic extension numbering starts: every number of the account's range
    # below it (of its own number of digits) is taken; lowered when a number is freed,
    # null or out of the current range: start from the range's start
    sa.Column("extension_floor", sa.BigInteger, nullable=True),
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
    # the default time zone of the site's users (DOMAIN.md 6, "Sites")
    sa.Column("time_zone", sa.String(64), nullable=True),
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
    # rule: a custom role's name is unique in its account, case-insensitively
    sa.Index("uq_roles_account_name", "account_id", sa.text("lower(name)"), unique=True),
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
    # rule: extension numbers are unique in the account (DOMAIN.md section 3, "extension")
    sa.Index("uq_extensions_number", "account_id", "number", unique=True),
    # an account's extensions, paged by id
    sa.Index("ix_extensions_account_id", "account_id", "id"),
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
    # accent- and case-folded "first last | email" (domain.search_text), for the search
    sa.Column("search_text", sa.Text, nullable=False, server_default=""),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.Column(
        "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    # rule: one user per extension
    sa.Index("uq_users_extension", "extension_id", unique=True),
    # rule (email uniqueness, DOMAIN.md section 3): one user per email inside an account,
    # always, compared case-insensitively
    sa.Index("uq_users_account_email", "account_id", sa.text("lower(email)"), unique=True),
    # rule (email uniqueness, DOMAIN.md section 3): with require_unique_email on, an email
    # belongs to one user across ALL accounts. Such a user is stored with
    # exclusive_email = true; this partial unique index is what enforces it.
    sa.Index(
        "uq_users_exclusive_email",
        sa.text("lower(email)"),
        unique=True,
        postgresql_where=sa.text("exclusive_email"),
    ),
    # sign-in and "is this email free?" look a user up by email across accounts
    sa.Index("ix_users_email", sa.text("lower(email)")),
    # an account's users, paged by id
    sa.Index("ix_users_account_id", "account_id", "id"),
    # the user search ("elodie" finds "Élodie"): substring match on the folded text
    sa.Index(
        "ix_users_search_text",
        "search_text",
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
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
    # a token names one integration
    sa.UniqueConstraint("token_hash", name="uq_integrations_token_hash"),
    sa.Index("ix_integrations_account_id", "account_id", "id"),
)
