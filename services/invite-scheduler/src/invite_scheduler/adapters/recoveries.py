"""Password recoveries: their mail queue (leased like invites) and their single-use,
expiring tokens (only the SHA-256 is stored)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from invite_scheduler.adapters.repository import (
    failed,
    release_leases,
    retry_later,
    seconds_interval,
    seconds_to_next_due,
)
from invite_scheduler.adapters.tables import recoveries

Row = dict[str, Any]
LIVE = ("Scheduled", "Sent")


class RecoveryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: Row) -> bool:
        """False when this recovery was recorded already (a redelivered event)."""
        result = await self.session.execute(
            insert(recoveries).values(**row).on_conflict_do_nothing().returning(recoveries.c.id)
        )
        return result.first() is not None

    async def revoke_live(
        self,
        *,
        reason: str,
        user_id: str | None = None,
        account_id: str | None = None,
        keep: str | None = None,
    ) -> int:
        """Kill the live links of a user (a newer recovery replaces them) or an account
        (closed)."""
        q = sa.update(recoveries).where(recoveries.c.status.in_(LIVE))
        if user_id is not None:
            q = q.where(recoveries.c.user_id == user_id)
        if account_id is not None:
            q = q.where(recoveries.c.account_id == account_id)
        if keep is not None:
            q = q.where(recoveries.c.id != keep)
        result = await self.session.execute(
            q.values(
                status="Revoked",
                reason=reason,
                lease_until=None,
                lease_id=None,
                updated_at=sa.func.now(),
            ).returning(recoveries.c.id)
        )
        return len(result.all())

    async def by_token(self, token_hash: bytes, *, for_update: bool = False) -> Row | None:
        q = sa.select(
            recoveries, (recoveries.c.expires_at <= sa.func.now()).label("expired")
        ).where(recoveries.c.token_hash == token_hash)
        if for_update:
            q = q.with_for_update()
        row = (await self.session.execute(q)).first()
        return dict(row._mapping) if row else None

    async def update(self, recovery_id: str, values: Row) -> Row:
        result = await self.session.execute(
            sa.update(recoveries)
            .where(recoveries.c.id == recovery_id)
            .values(**values, updated_at=sa.func.now())
            .returning(recoveries)
        )
        return dict(result.one()._mapping)

    async def claim_due(self, *, limit: int, lease_seconds: float, lease_id: str) -> list[Row]:
        now = sa.func.now()
        due = (
            sa.select(recoveries.c.id)
            .where(
                recoveries.c.status == "Scheduled",
                recoveries.c.due_at <= now,
                recoveries.c.expires_at > now,  # a link past its expiry is not mailed
                sa.or_(recoveries.c.lease_until.is_(None), recoveries.c.lease_until < now),
            )
            .order_by(recoveries.c.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("due")
        )
        result = await self.session.execute(
            sa.update(recoveries)
            .where(recoveries.c.id == due.c.id)
            .values(
                lease_until=now + seconds_interval(lease_seconds),
                lease_id=lease_id,
                attempts=recoveries.c.attempts + 1,
            )
            .returning(recoveries)
        )
        return [dict(r._mapping) for r in result.all()]

    async def mark_sent(self, *, recovery_id: str, lease_id: str) -> None:
        """Only while still held under this lease and not used or revoked meanwhile."""
        await self.session.execute(
            sa.update(recoveries)
            .where(
                recoveries.c.id == recovery_id,
                recoveries.c.lease_id == lease_id,
                recoveries.c.status == "Scheduled",
            )
            .values(
                status="Sent",
                sent_at=sa.func.now(),
                lease_until=None,
                lease_id=None,
                reason=None,
                updated_at=sa.func.now(),
            )
        )

    async def mark_retry(
        self, *, recovery_id: str, lease_id: str, delay_seconds: float, reason: str
    ) -> None:
        stmt = retry_later(recoveries, recovery_id, lease_id, delay_seconds, reason)
        await self.session.execute(stmt)

    async def mark_failed(self, *, recovery_id: str, lease_id: str, reason: str) -> None:
        await self.session.execute(failed(recoveries, recovery_id, lease_id, reason))

    async def release(self, *, recovery_ids: list[str], lease_id: str) -> None:
        await release_leases(self.session, recoveries, recovery_ids, lease_id)

    async def seconds_to_next_due(self) -> float | None:
        due = sa.and_(recoveries.c.status == "Scheduled", recoveries.c.expires_at > sa.func.now())
        return await seconds_to_next_due(self.session, recoveries, due)
