from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from account.adapters.tables import (
    accounts,
    allocations,
    call_counts,
    charges,
    devices,
    known_invites,
    known_users,
    licenses,
    link_codes,
    numbers,
    portal_links,
    portals,
    purchases,
)

PENDING_INVITES = ("Scheduled", "Sent")


def _rows(result: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in result.all()]


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
            .values(**values, version=accounts.c.version + 1, updated_at=sa.func.now())
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
        return _rows(await self.session.execute(q))


class NamedChildRepository:
    """Sites and cost centers: rows of an account whose names are unique in it."""

    def __init__(self, session: AsyncSession, table: sa.Table) -> None:
        self.session = session
        self.table = table

    async def add(self, row: dict[str, Any]) -> dict[str, Any] | None:
        """None when the name is taken in the account (unique index, race-proof)."""
        stmt = insert(self.table).values(**row).on_conflict_do_nothing().returning(self.table)
        found = (await self.session.execute(stmt)).first()
        return dict(found._mapping) if found else None

    async def list(self, account_id: str, *, after: str | None, limit: int) -> list[dict[str, Any]]:
        t = self.table
        q = sa.select(t).where(t.c.account_id == account_id).order_by(t.c.id).limit(limit)
        if after:
            q = q.where(t.c.id > after)
        return _rows(await self.session.execute(q))


class InventoryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def licenses(self, account_id: str) -> list[dict[str, Any]]:
        q = (
            sa.select(licenses)
            .where(licenses.c.account_id == account_id)
            .order_by(licenses.c.user_type)
        )
        return _rows(await self.session.execute(q))

    async def add_licenses(
        self, account_id: str, user_type: str, quantity: int, allocate: int
    ) -> None:
        stmt = insert(licenses).values(
            account_id=account_id, user_type=user_type, total=quantity, allocated=allocate
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[licenses.c.account_id, licenses.c.user_type],
            set_={
                "total": licenses.c.total + stmt.excluded.total,
                "allocated": licenses.c.allocated + stmt.excluded.allocated,
            },
        )
        await self.session.execute(stmt)

    async def take_licenses(self, account_id: str, user_type: str, count: int) -> bool:
        """Atomically take ``count`` free licenses; False when there are not enough."""
        stmt = (
            sa.update(licenses)
            .where(
                licenses.c.account_id == account_id,
                licenses.c.user_type == user_type,
                licenses.c.total - licenses.c.allocated >= count,
            )
            .values(allocated=licenses.c.allocated + count)
            .returning(licenses.c.user_type)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def give_back_licenses(self, account_id: str, counts: dict[str, int]) -> None:
        for user_type, count in counts.items():
            await self.session.execute(
                sa.update(licenses)
                .where(licenses.c.account_id == account_id, licenses.c.user_type == user_type)
                .values(allocated=sa.func.greatest(licenses.c.allocated - count, 0))
            )

    async def insert_numbers(self, rows: Sequence[dict[str, Any]]) -> list[str]:
        """Insert new numbers; those another account already holds are skipped."""
        if not rows:
            return []
        stmt = (
            insert(numbers).values(list(rows)).on_conflict_do_nothing().returning(numbers.c.number)
        )
        return list((await self.session.execute(stmt)).scalars().all())

    async def take_number(self, account_id: str, number: str, allocation_id: str) -> bool:
        stmt = (
            sa.update(numbers)
            .where(
                numbers.c.number == number,
                numbers.c.account_id == account_id,
                numbers.c.status == "free",
            )
            .values(status="allocated", allocation_id=allocation_id)
            .returning(numbers.c.number)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def take_free_numbers(
        self, account_id: str, count: int, area_prefix: str | None, allocation_id: str
    ) -> list[str]:
        pick = (
            sa.select(numbers.c.number)
            .where(numbers.c.account_id == account_id, numbers.c.status == "free")
            .order_by(numbers.c.number)
            .limit(count)
            .with_for_update(skip_locked=True)
        )
        if area_prefix:
            pick = pick.where(numbers.c.number.startswith(area_prefix))
        stmt = (
            sa.update(numbers)
            .where(numbers.c.number.in_(pick.scalar_subquery()))
            .values(status="allocated", allocation_id=allocation_id)
            .returning(numbers.c.number)
        )
        return sorted((await self.session.execute(stmt)).scalars().all())

    async def insert_devices(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(sa.insert(devices), list(rows))

    async def take_device(
        self, account_id: str, device_id: str, allocation_id: str
    ) -> dict[str, Any] | None:
        stmt = (
            sa.update(devices)
            .where(
                devices.c.id == device_id,
                devices.c.account_id == account_id,
                devices.c.status == "free",
            )
            .values(status="allocated", allocation_id=allocation_id)
            .returning(devices)
        )
        row = (await self.session.execute(stmt)).first()
        return dict(row._mapping) if row else None

    async def take_free_devices(
        self, account_id: str, model: str | None, count: int, allocation_id: str
    ) -> list[dict[str, Any]]:
        pick = (
            sa.select(devices.c.id)
            .where(devices.c.account_id == account_id, devices.c.status == "free")
            .order_by(devices.c.id)
            .limit(count)
            .with_for_update(skip_locked=True)
        )
        if model:
            pick = pick.where(sa.func.lower(devices.c.model) == model.lower())
        stmt = (
            sa.update(devices)
            .where(devices.c.id.in_(pick.scalar_subquery()))
            .values(status="allocated", allocation_id=allocation_id)
            .returning(devices)
        )
        return _rows(await self.session.execute(stmt))

    async def free_allocated(self, allocation_id: str) -> tuple[list[str], list[str]]:
        """Give back the numbers and devices an allocation holds: (numbers, device ids)."""
        nums = await self.session.execute(
            sa.update(numbers)
            .where(numbers.c.allocation_id == allocation_id)
            .values(status="free", allocation_id=None)
            .returning(numbers.c.number)
        )
        devs = await self.session.execute(
            sa.update(devices)
            .where(devices.c.allocation_id == allocation_id)
            .values(status="free", allocation_id=None)
            .returning(devices.c.id)
        )
        return sorted(nums.scalars().all()), sorted(devs.scalars().all())

    async def number_owner(self, number: str) -> dict[str, Any] | None:
        row = (
            await self.session.execute(sa.select(numbers).where(numbers.c.number == number))
        ).first()
        return dict(row._mapping) if row else None

    async def device(self, device_id: str) -> dict[str, Any] | None:
        row = (
            await self.session.execute(sa.select(devices).where(devices.c.id == device_id))
        ).first()
        return dict(row._mapping) if row else None

    async def numbers(self, account_id: str) -> list[dict[str, Any]]:
        q = sa.select(numbers).where(numbers.c.account_id == account_id).order_by(numbers.c.number)
        return _rows(await self.session.execute(q))

    async def devices(self, account_id: str) -> list[dict[str, Any]]:
        q = sa.select(devices).where(devices.c.account_id == account_id).order_by(devices.c.id)
        return _rows(await self.session.execute(q))

    async def add_purchase(self, row: dict[str, Any]) -> dict[str, Any]:
        result = await self.session.execute(sa.insert(purchases).values(**row).returning(purchases))
        return dict(result.one()._mapping)


class ChargeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_many(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        if not rows:
            return []
        result = await self.session.execute(
            sa.insert(charges).values(list(rows)).returning(charges)
        )
        by_id = {r["id"]: r for r in _rows(result)}
        return [by_id[r["id"]] for r in rows]

    async def add_overage(self, row: dict[str, Any]) -> dict[str, Any] | None:
        """The free-user overage, once per (account, user, cycle): partial unique index."""
        stmt = (
            insert(charges)
            .values(**row)
            .on_conflict_do_nothing(
                index_elements=[charges.c.account_id, charges.c.user_id, charges.c.cycle],
                index_where=sa.text("kind = 'free_user_overage'"),
            )
            .returning(charges)
        )
        found = (await self.session.execute(stmt)).first()
        return dict(found._mapping) if found else None

    async def list(
        self, account_id: str, *, kind: str | None, after: str | None, limit: int
    ) -> list[dict[str, Any]]:
        q = (
            sa.select(charges)
            .where(charges.c.account_id == account_id)
            .order_by(charges.c.id)
            .limit(limit)
        )
        if kind:
            q = q.where(charges.c.kind == kind)
        if after:
            q = q.where(charges.c.id > after)
        return _rows(await self.session.execute(q))


class AllocationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim(self, request_id: str, account_id: str, status: str = "pending") -> bool:
        """Insert the allocation row first: a concurrent twin waits on it, then sees it."""
        stmt = (
            insert(allocations)
            .values(request_id=request_id, account_id=account_id, status=status)
            .on_conflict_do_nothing()
            .returning(allocations.c.request_id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def get(self, request_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
        q = sa.select(allocations).where(allocations.c.request_id == request_id)
        if for_update:
            q = q.with_for_update()
        row = (await self.session.execute(q)).first()
        return dict(row._mapping) if row else None

    async def finish(
        self, request_id: str, taken_licenses: dict[str, int], reply: dict[str, Any]
    ) -> None:
        await self.session.execute(
            sa.update(allocations)
            .where(allocations.c.request_id == request_id)
            .values(status="allocated", licenses=taken_licenses, reply=reply)
        )

    async def mark_released(self, request_id: str) -> None:
        await self.session.execute(
            sa.update(allocations)
            .where(allocations.c.request_id == request_id)
            .values(status="released", released_at=sa.func.now())
        )


class PortalRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: dict[str, Any]) -> dict[str, Any]:
        result = await self.session.execute(sa.insert(portals).values(**row).returning(portals))
        return dict(result.one()._mapping)

    async def get(self, portal_id: str) -> dict[str, Any] | None:
        row = (
            await self.session.execute(sa.select(portals).where(portals.c.id == portal_id))
        ).first()
        return dict(row._mapping) if row else None

    async def link(self, portal_id: str, account_id: str) -> bool:
        stmt = (
            insert(portal_links)
            .values(portal_id=portal_id, account_id=account_id)
            .on_conflict_do_nothing()
            .returning(portal_links.c.account_id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def unlink(self, portal_id: str, account_id: str) -> bool:
        stmt = (
            sa.delete(portal_links)
            .where(portal_links.c.portal_id == portal_id, portal_links.c.account_id == account_id)
            .returning(portal_links.c.account_id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def is_linked(self, portal_id: str, account_id: str) -> bool:
        q = sa.select(portal_links.c.account_id).where(
            portal_links.c.portal_id == portal_id, portal_links.c.account_id == account_id
        )
        return (await self.session.execute(q)).first() is not None

    async def count_links(self, portal_id: str) -> int:
        q = (
            sa.select(sa.func.count())
            .select_from(portal_links)
            .where(portal_links.c.portal_id == portal_id)
        )
        return int((await self.session.execute(q)).scalar_one())

    async def overview(self, portal_id: str) -> list[dict[str, Any]]:
        """Every linked account with its user and pending-invite counts, in one query."""
        users = (
            sa.select(known_users.c.account_id, sa.func.count().label("users"))
            .where(known_users.c.removed.is_(False))
            .group_by(known_users.c.account_id)
            .subquery()
        )
        invites = (
            sa.select(known_invites.c.account_id, sa.func.count().label("pending_invites"))
            .where(known_invites.c.status.in_(PENDING_INVITES))
            .group_by(known_invites.c.account_id)
            .subquery()
        )
        q = (
            sa.select(
                accounts.c.id.label("account_id"),
                accounts.c.name,
                accounts.c.country,
                accounts.c.status,
                accounts.c.status_reason,
                sa.func.coalesce(users.c.users, 0).label("users"),
                sa.func.coalesce(invites.c.pending_invites, 0).label("pending_invites"),
            )
            .select_from(
                portal_links.join(accounts, accounts.c.id == portal_links.c.account_id)
                .outerjoin(users, users.c.account_id == accounts.c.id)
                .outerjoin(invites, invites.c.account_id == accounts.c.id)
            )
            .where(portal_links.c.portal_id == portal_id)
            .order_by(accounts.c.name, accounts.c.id)
        )
        return _rows(await self.session.execute(q))


class LinkCodeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: dict[str, Any]) -> None:
        await self.session.execute(sa.insert(link_codes).values(**row))

    async def consume(self, code_hash: str, account_id: str, portal_id: str) -> bool:
        """Single use: only the first of two concurrent links wins the row."""
        stmt = (
            sa.update(link_codes)
            .where(
                link_codes.c.code_hash == code_hash,
                link_codes.c.account_id == account_id,
                link_codes.c.used_at.is_(None),
                link_codes.c.expires_at > sa.func.now(),
            )
            .values(used_at=sa.func.now(), used_by_portal=portal_id)
            .returning(link_codes.c.code_hash)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def get(self, code_hash: str) -> dict[str, Any] | None:
        q = sa.select(link_codes).where(link_codes.c.code_hash == code_hash)
        row = (await self.session.execute(q)).first()
        return dict(row._mapping) if row else None


class ProjectionRepository:
    """What the account service keeps of other services' events."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert_users(self, rows: list[dict[str, Any]]) -> set[str]:
        """Keep the highest version of each user (one row per user in ``rows``); return
        the users that changed. A removal keeps the type and status last known."""
        if not rows:
            return set()
        ins = insert(known_users).values(rows)
        stmt = ins.on_conflict_do_update(
            index_elements=[known_users.c.user_id],
            set_={
                "account_id": ins.excluded.account_id,
                "version": ins.excluded.version,
                "removed": ins.excluded.removed,
                "user_type": sa.func.coalesce(ins.excluded.user_type, known_users.c.user_type),
                "status": sa.func.coalesce(ins.excluded.status, known_users.c.status),
            },
            where=known_users.c.version < ins.excluded.version,
        ).returning(known_users.c.user_id)
        return set((await self.session.execute(stmt)).scalars().all())

    async def user(self, user_id: str) -> dict[str, Any] | None:
        q = sa.select(known_users).where(known_users.c.user_id == user_id)
        row = (await self.session.execute(q)).first()
        return dict(row._mapping) if row else None

    async def upsert_invite(
        self, invite_id: str, account_id: str, status: str, event_time: datetime
    ) -> None:
        stmt = insert(known_invites).values(
            invite_id=invite_id, account_id=account_id, status=status, event_time=event_time
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[known_invites.c.invite_id],
            set_={"status": stmt.excluded.status, "event_time": stmt.excluded.event_time},
            where=known_invites.c.event_time <= stmt.excluded.event_time,
        )
        await self.session.execute(stmt)

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
