from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from account.adapters.tables import accounts


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: dict[str, Any]) -> dict[str, Any]:
        result = await self.session.execute(sa.insert(accounts).values(**row).returning(accounts))
        return dict(result.one()._mapping)

    async def get(self, account_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
        q = sa.select(accounts).where(accounts.c.id == account_id)
        if for_update:
            q = q.with_for_update()
        row = (await self.session.execute(q)).first()
        return dict(row._mapping) if row else None

    async def update(self, account_id: str, values: dict[str, Any]) -> dict[str, Any]:
        result = await self.session.execute(
            sa.update(accounts)
            .where(accounts.c.id == account_id)
            .values(**values, updated_at=sa.func.now())
            .returning(accounts)
        )
        return dict(result.one()._mapping)

    async def list(
        self, *, query: str | None, status: str | None, after: str | None, limit: int
    ) -> list[dict[str, Any]]:
        q = sa.select(accounts).order_by(accounts.c.id).limit(limit)
        if query:
            like = "%" + query.replace("%", r"\%").replace("_", r"\_") + "%"
            q = q.where(sa.or_(accounts.c.name.ilike(like), accounts.c.id == query))
        if status:
            q = q.where(accounts.c.status == status)
        if after:
            q = q.where(accounts.c.id > after)
        return [dict(r._mapping) for r in (await self.session.execute(q)).all()]
