"""Idempotent consumers: an inbox row per (consumer, message id), written in the
same transaction as the effect, so a redelivered message changes nothing."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from shared.bulk import unnest_insert, unnest_params
from shared.messaging.tables import inbox

_CLAIM = (
    unnest_insert(inbox, ("consumer", "message_id"))
    .on_conflict_do_nothing()
    .returning(inbox.c.message_id)
)


async def claim(session: AsyncSession, consumer: str, message_ids: Iterable[str]) -> set[str]:
    """Record the ids; return those seen for the first time (the ones to act on)."""
    ids = list(dict.fromkeys(message_ids))
    if not ids:
        return set()
    rows = [{"consumer": consumer, "message_id": m} for m in ids]
    params = unnest_params(inbox, ("consumer", "message_id"), rows)
    return set((await session.execute(_CLAIM, params)).scalars().all())
