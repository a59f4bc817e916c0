"""The account service's schema, declared once: every table, index and constraint the
migrations create is here, with the same name (tests/integration/test_schema_matches_metadata.py
compares the migrated database with this metadata). Indexes that carry a business rule
say which one."""

from __future__ import annotations

import sqlalchemy as sa
from shared.messaging.tables import add_messaging_tables
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData()
add_messaging_tables(metadata)

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
    # accounts.list searches names case-insensitively
    sa.Index("ix_accounts_name_lower", sa.text("lower(name)")),
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
    # rule: a site's name is unique in its account, case-insensitively
    sa.Index("ux_sites_account_name", "account_id", sa.text("lower(name)"), unique=True),
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
    # rule: a cost center's name is unique in its account, case-insensitively
    sa.Index("ux_cost_centers_account_name", "account_id", sa.text("lower(name)"), unique=True),
)

licenses = sa.Table(
    "licenses",
    metadata,
    sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id"), primary_key=True),
    sa.Column("user_type", sa.String(20), primary_key=True),
    sa.Column("total", sa.Integer, nullable=False, server_default="0"),
    sa.Column("allocated", sa.Integer, nullable=False, server_default="0"),
    # rule: never more licenses allocated than bought, never fewer than none
    sa.CheckConstraint("allocated >= 0 AND allocated <= total", name="ck_licenses_allocated"),
)

numbers = sa.Table(
    "numbers",
    metadata,
    # a phone number belongs to one account (numbers_pkey)
    sa.Column("number", sa.String(20), primary_key=True),
    sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("status", sa.String(20), nullable=False, server_default="free"),
    sa.Column("allocation_id", sa.String(64), nullable=True),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    # the next free numbers of an account, in order, for allocation
    sa.Index("ix_numbers_account_status", "account_id", "status", "number"),
    # what an allocation took, to give it back on release
    sa.Index("ix_numbers_allocation", "allocation_id"),
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
    # the free devices of an account by model, for allocation
    sa.Index("ix_devices_account_status", "account_id", "status", "model"),
    # what an allocation took, to give it back on release
    sa.Index("ix_devices_allocation", "allocation_id"),
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
    # an account's charges, paged by id
    sa.Index("ix_charges_account_id", "account_id", "id"),
    # rule: a free user over 10 calls in a cycle is charged once per user per cycle
    # (DOMAIN.md section 1, "Free users"); the metering insert is ON CONFLICT DO NOTHING
    # on this index
    sa.Index(
        "ux_charges_free_user_overage",
        "account_id",
        "user_id",
        "cycle",
        unique=True,
        postgresql_where=sa.text("kind = 'free_user_overage'"),
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
    # portals.list: the caller's own portals, paged by id
    sa.Index("ix_portals_owner", "owner_user_id", "id"),
)

# An account is linked to a portal once (the primary key, portal_links_pkey).
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
    sa.Column("site_id", sa.String(64), nullable=True),
    sa.Index("ix_known_users_account", "account_id"),
    # rule: a site with users cannot be removed (DOMAIN.md section 6); counts them
    sa.Index(
        "ix_known_users_site",
        "account_id",
        "site_id",
        postgresql_where=sa.text("site_id IS NOT NULL AND NOT removed"),
    ),
)

known_invites = sa.Table(
    "known_invites",
    metadata,
    sa.Column("invite_id", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_known_invites_account", "account_id"),
)

# Calls per free user per billing cycle (the primary key: one counter each).
call_counts = sa.Table(
    "call_counts",
    metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(64), primary_key=True),
    sa.Column("cycle", sa.String(7), primary_key=True),
    sa.Column("calls", sa.Integer, nullable=False, server_default="0"),
)
