"""The inventory: licenses per user type, numbers and devices of an account."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from account.adapters.repository import rows_of as _rows
from account.adapters.tables import devices, licenses, numbers, purchases
from account.domain import Device, LicensePool, Number


class InventoryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def licenses(self, account_id: str) -> list[LicensePool]:
        q = (
            sa.select(licenses.c.user_type, licenses.c.total, licenses.c.allocated)
            .where(licenses.c.account_id == account_id)
            .order_by(licenses.c.user_type)
        )
        return [LicensePool(**r._mapping) for r in (await self.session.execute(q)).all()]

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

    async def numbers(self, account_id: str) -> list[Number]:
        n = numbers.c
        q = (
            sa.select(n.number, n.status, n.allocation_id)
            .where(n.account_id == account_id)
            .order_by(n.number)
        )
        return [Number(**r._mapping) for r in (await self.session.execute(q)).all()]

    async def devices(self, account_id: str) -> list[Device]:
        d = devices.c
        q = (
            sa.select(d.id, d.model, d.status, d.allocation_id)
            .where(d.account_id == account_id)
            .order_by(d.id)
        )
        return [Device(**r._mapping) for r in (await self.session.execute(q)).all()]

    async def add_purchase(self, row: dict[str, Any]) -> dict[str, Any]:
        result = await self.session.execute(sa.insert(purchases).values(**row).returning(purchases))
        return dict(result.one()._mapping)

    async def return_license(self, account_id: str, user_type: str) -> bool:
        """One license of ``user_type`` back to the free pool; False when none was held."""
        stmt = (
            sa.update(licenses)
            .where(
                licenses.c.account_id == account_id,
                licenses.c.user_type == user_type,
                licenses.c.allocated > 0,
            )
            .values(allocated=licenses.c.allocated - 1)
            .returning(licenses.c.user_type)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def return_number(self, account_id: str, number: str) -> bool:
        """An assigned number of the account becomes available; False when it was not."""
        return await self._free(numbers, numbers.c.number, number, account_id)

    async def return_device(self, account_id: str, device_id: str) -> bool:
        """An assigned device of the account becomes available; False when it was not."""
        return await self._free(devices, devices.c.id, device_id, account_id)

    async def _free(self, table: sa.Table, key: Any, value: str, account_id: str) -> bool:
        stmt = (
            sa.update(table)
            .where(key == value, table.c.account_id == account_id, table.c.status == "allocated")
            .values(status="free", allocation_id=None)
            .returning(key)
        )
        return (await self.session.execute(stmt)).first() is not None
