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
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)
