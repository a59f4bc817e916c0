"""Idempotent consumers: an inbox row per (consumer, message id), written in the
same transaction as the effect, so a redelivered message changes nothing."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.messaging.tables import inbox


async def claim(session: AsyncSession, consumer: str, message_ids: Iterable[str]) -> set[str]:
    """Record the ids; return those seen for the first time (the ones to act on)."""
    ids = list(dict.fromkeys(message_ids))
    if not ids:
        return set()
    stmt = (
        insert(inbox)
        .values([{"consumer": consumer, "message_id": m} for m in ids])
        .on_conflict_do_nothing()
        .returning(inbox.c.message_id)
    )
    return set((await session.execute(stmt)).scalars().all())
