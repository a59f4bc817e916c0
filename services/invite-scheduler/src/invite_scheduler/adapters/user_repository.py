"""What the scheduler keeps of identity's users: the newest snapshot of each."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from shared.bulk import by_shape, unnest_params, upsert_newer
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from invite_scheduler.adapters.tables import users

Row = dict[str, Any]


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: str, *, for_update: bool = False) -> Row | None:
        q = sa.select(users).where(users.c.user_id == user_id)
        if for_update:
            q = q.with_for_update()
        row = (await self.session.execute(q)).first()
        return dict(row._mapping) if row else None

    async def upsert_snapshots(self, rows: list[Row]) -> dict[str, Row]:
        """Keep each user's snapshot with the highest version (users of distinct ids,
        one statement per set of fields given); the rows kept, by id (a snapshot older
        than the stored one is not)."""
        kept: dict[str, Row] = {}
        ordered = sorted(rows, key=lambda r: str(r["user_id"]))  # rows locked in id order
        for keys, group in by_shape(ordered).items():
            params = unnest_params(users, keys, group)
            stmt = upsert_newer(users, keys, ties=True)
            for r in (await self.session.execute(stmt, params)).all():
                kept[r.user_id] = dict(r._mapping)
        return kept

    async def get_many(self, user_ids: list[str]) -> dict[str, Row]:
        """These users, locked (in id order), by id."""
        if not user_ids:
            return {}
        q = (
            sa.select(users)
            .where(users.c.user_id.in_(user_ids))
            .order_by(users.c.user_id)
            .with_for_update()
        )
        return {r.user_id: dict(r._mapping) for r in (await self.session.execute(q)).all()}

    async def ensure_many(self, rows: list[Row]) -> None:
        """Users not heard of yet, in one statement; known ones are left as they are."""
        if rows:
            rows = sorted(rows, key=lambda r: str(r["user_id"]))
            await self.session.execute(insert(users).on_conflict_do_nothing(), rows)

    async def mark_removed(self, user_id: str, account_id: str, version: int) -> bool:
        ins = insert(users).values(
            user_id=user_id,
            account_id=account_id,
            email="",
            status="Removed",
            removed=True,
            version=version,
        )
        stmt = ins.on_conflict_do_update(
            index_elements=[users.c.user_id],
            set_={"removed": True, "version": ins.excluded.version, "updated_at": sa.func.now()},
            where=users.c.version <= ins.excluded.version,
        ).returning(users.c.user_id)
        return (await self.session.execute(stmt)).first() is not None
