"""Tables every service keeps for reliable messaging: outbox, inbox, dead letters.

Declared here once, with every index and constraint their first migration creates
(``create_messaging_tables``); each service adds them to its own metadata with
:func:`add_messaging_tables`, so the schema test compares them too.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData()

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
    # an event is written once (outbox_event_id_key); its id is the JetStream Msg-Id
    sa.Column("event_id", sa.String(64), nullable=False, unique=True),
    sa.Column("subject", sa.String(255), nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
    # the relay reads only what is still to publish, in order
    sa.Index("ix_outbox_unpublished", "seq", postgresql_where=sa.text("published_at IS NULL")),
)

inbox = sa.Table(
    "inbox",
    metadata,
    # a message is applied once per consumer: the primary key (inbox_pkey) is the dedupe
    sa.Column("consumer", sa.String(100), primary_key=True),
    sa.Column("message_id", sa.String(200), primary_key=True),
    sa.Column(
        "received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)

dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("consumer", sa.String(100), nullable=False),
    sa.Column("subject", sa.String(255), nullable=False),
    sa.Column("message_id", sa.String(200), nullable=True),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("headers", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("deliveries", sa.Integer, nullable=False, server_default="1"),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
)


def add_messaging_tables(service_metadata: sa.MetaData) -> None:
    """Declare outbox, inbox and dead_letters (with their indexes) in a service's metadata."""
    for table in (outbox, inbox, dead_letters):
        table.to_metadata(service_metadata)


def create_messaging_tables(op: Any) -> None:
    """Create the three tables in a service's first Alembic migration."""
    op.create_table(
        "outbox",
        sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["seq"],
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("message_id", sa.String(200), primary_key=True),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("consumer", sa.String(100), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("message_id", sa.String(200), nullable=True),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("headers", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("deliveries", sa.Integer, nullable=False, server_default="1"),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
    )


def drop_messaging_tables(op: Any) -> None:
    op.drop_table("dead_letters")
    op.drop_table("inbox")
    op.drop_index("ix_outbox_unpublished", table_name="outbox")
    op.drop_table("outbox")
