"""Multi-account portals, their links and one-time link codes."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from account.adapters.repository import rows_of as _rows
from account.adapters.tables import (
    accounts,
    known_invites,
    known_users,
    link_codes,
    portal_links,
    portals,
)
from account.domain import Portal

PENDING_INVITES = ("Scheduled", "Sent")


class PortalRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: dict[str, Any]) -> Portal:
        result = await self.session.execute(sa.insert(portals).values(**row).returning(portals))
        return Portal(**result.one()._mapping)

    async def get(self, portal_id: str) -> Portal | None:
        row = (
            await self.session.execute(sa.select(portals).where(portals.c.id == portal_id))
        ).first()
        return Portal(**row._mapping) if row else None

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

    async def owned_by(
        self, owner_user_id: str, *, after: str | None, limit: int
    ) -> list[tuple[Portal, int]]:
        """The owner's portals by id, each with how many accounts it links."""
        linked = (
            sa.select(sa.func.count())
            .select_from(portal_links)
            .where(portal_links.c.portal_id == portals.c.id)
            .scalar_subquery()
        )
        q = (
            sa.select(portals, linked.label("linked_accounts"))
            .where(portals.c.owner_user_id == owner_user_id)
            .order_by(portals.c.id)
            .limit(limit)
        )
        if after:
            q = q.where(portals.c.id > after)
        found = (await self.session.execute(q)).all()
        cols = portals.c.keys()
        return [
            (Portal(**{k: r._mapping[k] for k in cols}), int(r._mapping["linked_accounts"]))
            for r in found
        ]


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
