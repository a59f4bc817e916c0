"""Repositories of the account service's own records. Inventory, portals and the
projections of other services' events live in their own modules beside this one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from account.adapters.tables import accounts, allocations, charges, sites
from account.domain import Account, Allocation, Site


def rows_of(result: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in result.all()]


_rows = rows_of


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: dict[str, Any]) -> Account:
        result = await self.session.execute(sa.insert(accounts).values(**row).returning(accounts))
        return Account(**result.one()._mapping)

    async def get(self, account_id: str, *, for_update: bool = False) -> Account | None:
        q = sa.select(accounts).where(accounts.c.id == account_id)
        if for_update:
            q = q.with_for_update()
        row = (await self.session.execute(q)).first()
        return Account(**row._mapping) if row else None

    async def update(self, account_id: str, values: dict[str, Any]) -> Account:
        result = await self.session.execute(
            sa.update(accounts)
            .where(accounts.c.id == account_id)
            .values(**values, version=accounts.c.version + 1, updated_at=sa.func.now())
            .returning(accounts)
        )
        return Account(**result.one()._mapping)

    async def list(
        self, *, query: str | None, status: str | None, after: str | None, limit: int
    ) -> list[Account]:
        q = sa.select(accounts).order_by(accounts.c.id).limit(limit)
        if query:
            like = "%" + query.replace("%", r"\%").replace("_", r"\_") + "%"
            q = q.where(sa.or_(accounts.c.name.ilike(like), accounts.c.id == query))
        if status:
            q = q.where(accounts.c.status == status)
        if after:
            q = q.where(accounts.c.id > after)
        return [Account(**r._mapping) for r in (await self.session.execute(q)).all()]


class NamedChildRepository:
    """Cost centers: rows of an account whose names are unique in it."""

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


class SiteRepository:
    """Sites: named uniquely in their account, changed and removed."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: dict[str, Any]) -> Site | None:
        """None when the name is taken in the account (unique index, race-proof)."""
        stmt = insert(sites).values(**row).on_conflict_do_nothing().returning(sites)
        found = (await self.session.execute(stmt)).first()
        return Site(**found._mapping) if found else None

    async def list(self, account_id: str, *, after: str | None, limit: int) -> list[Site]:
        q = sa.select(sites).where(sites.c.account_id == account_id).order_by(sites.c.id)
        if after:
            q = q.where(sites.c.id > after)
        return [Site(**r._mapping) for r in (await self.session.execute(q.limit(limit))).all()]

    async def get(self, account_id: str, site_id: str, *, for_update: bool = False) -> Site | None:
        q = sa.select(sites).where(sites.c.id == site_id, sites.c.account_id == account_id)
        if for_update:
            q = q.with_for_update()
        row = (await self.session.execute(q)).first()
        return Site(**row._mapping) if row else None

    async def update(self, site_id: str, values: dict[str, Any]) -> Site | None:
        """None when the new name is taken in the account (the unique index decides,
        in a savepoint so the transaction goes on)."""
        stmt = sa.update(sites).where(sites.c.id == site_id).values(**values).returning(sites)
        try:
            async with self.session.begin_nested():
                row = (await self.session.execute(stmt)).one()
        except IntegrityError:
            return None
        return Site(**row._mapping)

    async def remove(self, site_id: str) -> None:
        await self.session.execute(sa.delete(sites).where(sites.c.id == site_id))


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

    async def get(self, request_id: str, *, for_update: bool = False) -> Allocation | None:
        cols = [
            allocations.c[n] for n in ("request_id", "account_id", "status", "licenses", "reply")
        ]
        q = sa.select(*cols).where(allocations.c.request_id == request_id)
        if for_update:
            q = q.with_for_update()
        row = (await self.session.execute(q)).first()
        return Allocation(**row._mapping) if row else None

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
