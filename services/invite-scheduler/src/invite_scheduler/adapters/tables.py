"""The invite scheduler's schema, declared once: every table, index and constraint the
migrations create is here, with the same name (tests/integration/test_schema_matches_metadata.py
compares the migrated database with this metadata). Indexes that carry a business rule
say which one."""

from __future__ import annotations

import sqlalchemy as sa
from shared.messaging.tables import add_messaging_tables

metadata = sa.MetaData()
add_messaging_tables(metadata)

LIVE_STATUSES = "status IN ('Scheduled', 'Sent')"

invites = sa.Table(
    "invites",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("send_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("local_send_at", sa.String(19), nullable=True),
    sa.Column("time_zone", sa.String(64), nullable=True),
    # when the scheduler next acts on it: send_at, or the time of the next retry
    sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
    # a replica that claimed it for sending holds it until then
    sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("lease_id", sa.String(64), nullable=True),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    # bumped whenever a new link is due (resend, reschedule, email change); the token
    # and the mail's Message-ID are derived from (id, send_generation)
    sa.Column("send_generation", sa.Integer, nullable=False, server_default="0"),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.Column(
        "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    # an account's invites, paged by id
    sa.Index("ix_invites_account_id", "account_id", "id"),
    # rule: a user has at most one live (Scheduled or Sent) invite; a new one replaces
    # it, so an earlier link dies (DOMAIN.md section 4)
    sa.Index(
        "ux_invites_live_user", "user_id", unique=True, postgresql_where=sa.text(LIVE_STATUSES)
    ),
    # the scheduler's queue: scheduled invites by when they are due
    sa.Index("ix_invites_due", "due_at", postgresql_where=sa.text("status = 'Scheduled'")),
    # sent invites by when their link expires
    sa.Index("ix_invites_expiring", "expires_at", postgresql_where=sa.text("status = 'Sent'")),
)

# Activation tokens, only as their SHA-256; one row per link ever mailed, so an old
# link answers "revoked" or "used" rather than "invalid".
invite_tokens = sa.Table(
    "invite_tokens",
    metadata,
    sa.Column("token_hash", sa.LargeBinary, primary_key=True),
    sa.Column("invite_id", sa.String(64), nullable=False),
    sa.Column("state", sa.String(10), nullable=False, server_default="live"),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    # an invite's live links, revoked when a new link is due
    sa.Index("ix_invite_tokens_live", "invite_id", postgresql_where=sa.text("state = 'live'")),
)

# Projections of other services' facts (from their events).
users = sa.Table(
    "users",
    metadata,
    sa.Column("user_id", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("first_name", sa.String(120), nullable=False, server_default=""),
    sa.Column("last_name", sa.String(120), nullable=False, server_default=""),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("removed", sa.Boolean, nullable=False, server_default=sa.false()),
    # from the snapshot's regional settings: the language and time zone of its emails
    sa.Column("language", sa.String(35), nullable=True),
    sa.Column("time_zone", sa.String(64), nullable=True),
    sa.Column("version", sa.Integer, nullable=False, server_default="0"),
    sa.Column(
        "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column(
        "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    # rule: only an Active account's users are invited (DOMAIN.md section 6); scheduled
    # invites wait while Suspended and are cancelled when Closed
    sa.Column("status", sa.String(20), nullable=False, server_default="Active"),
    # rule: no invitation by email where emails are not unique (DOMAIN.md section 3)
    sa.Column("require_unique_email", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("default_language", sa.String(35), nullable=True),
    sa.Column("default_time_zone", sa.String(64), nullable=True),
)

# Password recoveries (identity's recovery.requested): one emailed single-use link each,
# its token derived from the id (a re-sent mail carries the same link) and stored only
# as its SHA-256. Scheduled: to mail; Sent; Used; Revoked (replaced, too many wrong
# answers, account closed); Failed (undeliverable).
recoveries = sa.Table(
    "recoveries",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("first_name", sa.String(120), nullable=False, server_default=""),
    sa.Column("last_name", sa.String(120), nullable=False, server_default=""),
    sa.Column("language", sa.String(35), nullable=True),
    sa.Column("time_zone", sa.String(64), nullable=True),
    sa.Column("token_hash", sa.LargeBinary, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("lease_id", sa.String(64), nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("answer_failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.Column(
        "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    # the link's lookup key; a token is one recovery's
    sa.Index("ux_recoveries_token", "token_hash", unique=True),
    # the recovery mailer's queue
    sa.Index("ix_recoveries_due", "due_at", postgresql_where=sa.text("status = 'Scheduled'")),
    # a user's live recoveries, revoked by a newer one
    sa.Index("ix_recoveries_live_user", "user_id", postgresql_where=sa.text(LIVE_STATUSES)),
)
