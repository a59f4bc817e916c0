from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData()

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("plan", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False, server_default="Active"),
    sa.Column("status_reason", sa.Text, nullable=True),
    sa.Column("multi_site", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("extension_length", sa.Integer, nullable=False, server_default="4"),
    sa.Column("settings", JSONB, nullable=False),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.Column(
        "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)

sites = sa.Table(
    "sites",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("code", sa.String(20), nullable=True),
    sa.Column("time_zone", sa.String(64), nullable=False),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)

cost_centers = sa.Table(
    "cost_centers",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)

licenses = sa.Table(
    "licenses",
    metadata,
    sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id"), primary_key=True),
    sa.Column("user_type", sa.String(20), primary_key=True),
    sa.Column("total", sa.Integer, nullable=False, server_default="0"),
    sa.Column("allocated", sa.Integer, nullable=False, server_default="0"),
    sa.CheckConstraint("allocated >= 0 AND allocated <= total", name="ck_licenses_allocated"),
)

numbers = sa.Table(
    "numbers",
    metadata,
    sa.Column("number", sa.String(20), primary_key=True),
    sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("status", sa.String(20), nullable=False, server_default="free"),
    sa.Column("allocation_id", sa.String(64), nullable=True),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)

devices = sa.Table(
    "devices",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("model", sa.String(60), nullable=False),
    sa.Column("status", sa.String(20), nullable=False, server_default="free"),
    sa.Column("allocation_id", sa.String(64), nullable=True),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)

purchases = sa.Table(
    "purchases",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("actor_id", sa.String(120), nullable=False),
    sa.Column("items", JSONB, nullable=False),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)

charges = sa.Table(
    "charges",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("purchase_id", sa.String(64), nullable=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("item", sa.String(80), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("unit_price_minor", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("user_id", sa.String(64), nullable=True),
    sa.Column("cycle", sa.String(7), nullable=True),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)

allocations = sa.Table(
    "allocations",
    metadata,
    sa.Column("request_id", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("licenses", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("reply", JSONB, nullable=True),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
)

portals = sa.Table(
    "portals",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("owner_user_id", sa.String(120), nullable=False),
    sa.Column("owner_account_id", sa.String(64), nullable=True),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)

portal_links = sa.Table(
    "portal_links",
    metadata,
    sa.Column("portal_id", sa.String(64), sa.ForeignKey("portals.id"), primary_key=True),
    sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id"), primary_key=True),
    sa.Column(
        "linked_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)

link_codes = sa.Table(
    "link_codes",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("issued_by", sa.String(120), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("used_by_portal", sa.String(64), nullable=True),
)

known_users = sa.Table(
    "known_users",
    metadata,
    sa.Column("user_id", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("user_type", sa.String(20), nullable=True),
    sa.Column("status", sa.String(20), nullable=True),
    sa.Column("removed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("version", sa.Integer, nullable=False, server_default="0"),
)

known_invites = sa.Table(
    "known_invites",
    metadata,
    sa.Column("invite_id", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
)

call_counts = sa.Table(
    "call_counts",
    metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(64), primary_key=True),
    sa.Column("cycle", sa.String(7), primary_key=True),
    sa.Column("calls", sa.Integer, nullable=False, server_default="0"),
)
