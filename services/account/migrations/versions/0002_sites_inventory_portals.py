"""sites, cost centers, inventory, charges, portals, projections, call metering

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

NOW = sa.func.now()


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    if nullable:
        return sa.Column(name, sa.DateTime(timezone=True), nullable=True)
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=NOW)


def upgrade() -> None:
    op.add_column("accounts", sa.Column("version", sa.Integer, nullable=False, server_default="1"))
    op.create_table(
        "sites",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("code", sa.String(20), nullable=True),
        sa.Column("time_zone", sa.String(64), nullable=False),
        _ts("created_at"),
    )
    op.create_index(
        "ux_sites_account_name", "sites", ["account_id", sa.text("lower(name)")], unique=True
    )
    op.create_table(
        "cost_centers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        _ts("created_at"),
    )
    op.create_index(
        "ux_cost_centers_account_name",
        "cost_centers",
        ["account_id", sa.text("lower(name)")],
        unique=True,
    )
    op.create_table(
        "licenses",
        sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("user_type", sa.String(20), primary_key=True),
        sa.Column("total", sa.Integer, nullable=False, server_default="0"),
        sa.Column("allocated", sa.Integer, nullable=False, server_default="0"),
        sa.CheckConstraint("allocated >= 0 AND allocated <= total", name="ck_licenses_allocated"),
    )
    op.create_table(
        "numbers",
        sa.Column("number", sa.String(20), primary_key=True),
        sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="free"),
        sa.Column("allocation_id", sa.String(64), nullable=True),
        _ts("created_at"),
    )
    op.create_index("ix_numbers_account_status", "numbers", ["account_id", "status", "number"])
    op.create_index("ix_numbers_allocation", "numbers", ["allocation_id"])
    op.create_table(
        "devices",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("model", sa.String(60), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="free"),
        sa.Column("allocation_id", sa.String(64), nullable=True),
        _ts("created_at"),
    )
    op.create_index("ix_devices_account_status", "devices", ["account_id", "status", "model"])
    op.create_index("ix_devices_allocation", "devices", ["allocation_id"])
    op.create_table(
        "purchases",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("actor_id", sa.String(120), nullable=False),
        sa.Column("items", JSONB, nullable=False),
        _ts("created_at"),
    )
    op.create_table(
        "charges",
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
        _ts("created_at"),
    )
    op.create_index("ix_charges_account_id", "charges", ["account_id", "id"])
    op.create_index(
        "ux_charges_free_user_overage",
        "charges",
        ["account_id", "user_id", "cycle"],
        unique=True,
        postgresql_where=sa.text("kind = 'free_user_overage'"),
    )
    op.create_table(
        "allocations",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("licenses", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("reply", JSONB, nullable=True),
        _ts("created_at"),
        _ts("released_at", nullable=True),
    )
    op.create_table(
        "portals",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("owner_user_id", sa.String(120), nullable=False),
        sa.Column("owner_account_id", sa.String(64), nullable=True),
        _ts("created_at"),
    )
    op.create_table(
        "portal_links",
        sa.Column("portal_id", sa.String(64), sa.ForeignKey("portals.id"), primary_key=True),
        sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id"), primary_key=True),
        _ts("linked_at"),
    )
    op.create_table(
        "link_codes",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("issued_by", sa.String(120), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        _ts("used_at", nullable=True),
        sa.Column("used_by_portal", sa.String(64), nullable=True),
    )
    op.create_table(
        "known_users",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("user_type", sa.String(20), nullable=True),
        sa.Column("status", sa.String(20), nullable=True),
        sa.Column("removed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("version", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index("ix_known_users_account", "known_users", ["account_id"])
    op.create_table(
        "known_invites",
        sa.Column("invite_id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_known_invites_account", "known_invites", ["account_id"])
    op.create_table(
        "call_counts",
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("cycle", sa.String(7), primary_key=True),
        sa.Column("calls", sa.Integer, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    for table in (
        "call_counts",
        "known_invites",
        "known_users",
        "link_codes",
        "portal_links",
        "portals",
        "allocations",
        "charges",
        "purchases",
        "devices",
        "numbers",
        "licenses",
        "cost_centers",
        "sites",
    ):
        op.drop_table(table)
    op.drop_column("accounts", "version")
