"""What the account service keeps of other services' events: users, invites, calls."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from shared.bulk import unnest_insert, unnest_params
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from account.adapters.repository import rows_of as _rows
from account.adapters.tables import call_counts, known_invites, known_users

_USER_COLUMNS = ("user_id", "account_id", "version", "removed", "user_type", "status", "site_id")
_INVITE_COLUMNS = ("invite_id", "account_id", "status", "event_time")


def _upsert_users() -> Any:
    ins = unnest_insert(known_users, _USER_COLUMNS)
    return ins.on_conflict_do_update(
        index_elements=[known_users.c.user_id],
        set_={
            "account_id": ins.excluded.account_id,
            "version": ins.excluded.version,
            "removed": ins.excluded.removed,
            "user_type": sa.func.coalesce(ins.excluded.user_type, known_users.c.user_type),
            "status": sa.func.coalesce(ins.excluded.status, known_users.c.status),
            "site_id": ins.excluded.site_id,
        },
        where=known_users.c.version < ins.excluded.version,
    ).returning(known_users.c.user_id)


def _upsert_invites() -> Any:
    ins = unnest_insert(known_invites, _INVITE_COLUMNS)
    return ins.on_conflict_do_update(
        index_elements=[known_invites.c.invite_id],
        set_={"status": ins.excluded.status, "event_time": ins.excluded.event_time},
        where=known_invites.c.event_time <= ins.excluded.event_time,
    )


# built once: each batch only binds its arrays (shared.bulk)
_UPSERT_USERS = _upsert_users()
_UPSERT_INVITES = _upsert_invites()


class ProjectionRepository:
    """What the account service keeps of other services' events."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert_users(self, rows: list[dict[str, Any]]) -> set[str]:
        """Keep the highest version of each user (one row per user in ``rows``); return
        the users that changed. A removal keeps the type and status last known."""
        if not rows:
            return set()
        params = unnest_params(known_users, _USER_COLUMNS, rows)
        return set((await self.session.execute(_UPSERT_USERS, params)).scalars().all())

    async def user(self, user_id: str) -> dict[str, Any] | None:
        q = sa.select(known_users).where(known_users.c.user_id == user_id)
        row = (await self.session.execute(q)).first()
        return dict(row._mapping) if row else None

    async def upsert_invites(self, rows: list[tuple[str, str, str, datetime]]) -> None:
        """(invite_id, account_id, status, event_time) rows, one per invite; a stored
        later event time wins."""
        if not rows:
            return
        values = [
            {"invite_id": i, "account_id": a, "status": st, "event_time": t} for i, a, st, t in rows
        ]
        await self.session.execute(
            _UPSERT_INVITES, unnest_params(known_invites, _INVITE_COLUMNS, values)
        )

    async def count_call(self, account_id: str, user_id: str, cycle: str) -> int:
        ins = insert(call_counts).values(
            account_id=account_id, user_id=user_id, cycle=cycle, calls=1
        )
        stmt = ins.on_conflict_do_update(
            index_elements=[call_counts.c.account_id, call_counts.c.user_id, call_counts.c.cycle],
            set_={"calls": call_counts.c.calls + 1},
        ).returning(call_counts.c.calls)
        return int((await self.session.execute(stmt)).scalar_one())

    async def cycles_over(
        self, account_id: str, user_id: str, threshold: int
    ) -> list[dict[str, Any]]:
        q = sa.select(call_counts).where(
            call_counts.c.account_id == account_id,
            call_counts.c.user_id == user_id,
            call_counts.c.calls > threshold,
        )
        return _rows(await self.session.execute(q))

    async def calls(self, account_id: str, user_id: str, cycle: str) -> int:
        q = sa.select(call_counts.c.calls).where(
            call_counts.c.account_id == account_id,
            call_counts.c.user_id == user_id,
            call_counts.c.cycle == cycle,
        )
        return int((await self.session.execute(q)).scalar() or 0)

    async def users_on_site(self, account_id: str, site_id: str) -> int:
        """Users known (from identity's events) to be on the site, removed ones aside."""
        q = (
            sa.select(sa.func.count())
            .select_from(known_users)
            .where(
                known_users.c.account_id == account_id,
                known_users.c.site_id == site_id,
                known_users.c.site_id.is_not(None),
                sa.not_(known_users.c.removed),
            )
        )
        return int((await self.session.execute(q)).scalar_one())
