from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from identity.adapters.tables import accounts, operators


class OperatorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_email(self, email: str) -> dict[str, Any] | None:
        row = (
            await self.session.execute(
                sa.select(operators).where(sa.func.lower(operators.c.email) == email.lower())
            )
        ).first()
        return dict(row._mapping) if row else None

    async def upsert(self, operator_id: str, email: str, password_hash: str) -> None:
        existing = await self.by_email(email)
        if existing:
            await self.session.execute(
                sa.update(operators)
                .where(operators.c.id == existing["id"])
                .values(password_hash=password_hash)
            )
        else:
            await self.session.execute(
                insert(operators)
                .values(id=operator_id, email=email, password_hash=password_hash)
                .on_conflict_do_nothing()
            )


class AccountFactsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert_facts(self, facts: dict[str, Any]) -> None:
        values = {
            "account_id": facts["account_id"],
            "plan": facts["plan"],
            "status": facts["status"],
            "multi_site": facts["multi_site"],
            "extension_length": facts["extension_length"],
            "require_unique_email": facts["require_unique_email"],
            "facts": facts,
        }
        stmt = insert(accounts).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[accounts.c.account_id],
            set_={k: stmt.excluded[k] for k in values if k != "account_id"} | {"updated_at": sa.func.now()},
        )
        await self.session.execute(stmt)

    async def get(self, account_id: str) -> dict[str, Any] | None:
        row = (
            await self.session.execute(sa.select(accounts).where(accounts.c.account_id == account_id))
        ).first()
        return dict(row._mapping) if row else None
