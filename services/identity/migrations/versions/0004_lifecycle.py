"""lifecycle: accent-insensitive user search (folded column, trigram index), the
account's default role, the site's time zone

Revision ID: 0004_lifecycle
Revises: 0003_integrations
"""

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0004_lifecycle"
down_revision = "0003_integrations"
branch_labels = None
depends_on = None


def _fold(text: str) -> str:
    # a frozen copy of identity.domain.fold: a migration never changes with the code
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.add_column("accounts", sa.Column("default_role_id", sa.String(64), nullable=True))
    op.add_column("sites", sa.Column("time_zone", sa.String(64), nullable=True))
    op.add_column("users", sa.Column("search_text", sa.Text, nullable=False, server_default=""))
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, first_name, last_name, email FROM users")).all()
    for uid, first, last, email in rows:
        conn.execute(
            sa.text("UPDATE users SET search_text = :t WHERE id = :i"),
            {"t": f"{_fold(first)} {_fold(last)} | {_fold(email)}", "i": uid},
        )
    op.create_index(
        "ix_users_search_text",
        "users",
        ["search_text"],
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_users_search_text", table_name="users")
    op.drop_column("users", "search_text")
    op.drop_column("sites", "time_zone")
    op.drop_column("accounts", "default_role_id")
