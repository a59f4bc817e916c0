"""Raw asyncpg reads for the hottest query (``account.v1.accounts.get``)."""

from __future__ import annotations

import asyncpg

from account.domain import Account

ACCOUNT_COLUMNS = (
    "id, name, country, plan, status, status_reason, multi_site, extension_length, settings,"
    " created_at"
)


class PgAccountReader:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def account(self, account_id: str) -> Account | None:
        row = await self._pool.fetchrow(
            f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1",  # noqa: S608
            account_id,
        )
        return Account(**row) if row is not None else None
