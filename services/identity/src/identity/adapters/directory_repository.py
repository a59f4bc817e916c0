"""Directory requests from other systems: the integrations they authenticate with and
the request ids already answered (each answered once per account)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from identity.adapters.tables import integrations, provisioning_requests


class ProvisioningRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self, request_id: str, account_id: str, user_id: str | None, outcome: str
    ) -> bool:
        """False when this request id was handled before."""
        stmt = (
            insert(provisioning_requests)
            .values(request_id=request_id, account_id=account_id, user_id=user_id, outcome=outcome)
            .on_conflict_do_nothing()
            .returning(provisioning_requests.c.request_id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def seen(self, account_id: str, request_id: str) -> bool:
        q = sa.select(provisioning_requests.c.request_id).where(
            provisioning_requests.c.account_id == account_id,
            provisioning_requests.c.request_id == request_id,
        )
        return (await self.session.execute(q)).first() is not None


class IntegrationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: dict[str, Any]) -> None:
        await self.session.execute(sa.insert(integrations).values(**row))

    async def get(
        self, account_id: str, integration_id: str, *, lock: bool = False
    ) -> dict[str, Any] | None:
        q = sa.select(integrations).where(
            integrations.c.account_id == account_id, integrations.c.id == integration_id
        )
        if lock:
            q = q.with_for_update()
        row = (await self.session.execute(q)).first()
        return dict(row._mapping) if row else None

    async def by_token_hash(self, token_hash: str) -> dict[str, Any] | None:
        q = sa.select(integrations).where(integrations.c.token_hash == token_hash)
        row = (await self.session.execute(q)).first()
        return dict(row._mapping) if row else None

    async def page(self, account_id: str, cursor: str | None, limit: int) -> list[dict[str, Any]]:
        q = sa.select(integrations).where(integrations.c.account_id == account_id)
        if cursor:
            q = q.where(integrations.c.id > cursor)
        q = q.order_by(integrations.c.id).limit(limit + 1)
        return [dict(r._mapping) for r in await self.session.execute(q)]

    async def revoke(self, integration_id: str) -> dict[str, Any]:
        row = (
            await self.session.execute(
                sa.update(integrations)
                .where(integrations.c.id == integration_id)
                .values(revoked_at=sa.func.coalesce(integrations.c.revoked_at, sa.func.now()))
                .returning(*integrations.c)
            )
        ).first()
        assert row is not None
        return dict(row._mapping)
