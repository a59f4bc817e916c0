from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from invite_scheduler.adapters.tables import accounts, invite_tokens, invites, users

Row = dict[str, Any]


def _secs(value: float) -> sa.ColumnElement[Any]:
    return sa.func.make_interval(0, 0, 0, 0, 0, 0, sa.literal(float(value), sa.Float))


class InviteRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: Row) -> Row:
        result = await self.session.execute(sa.insert(invites).values(**row).returning(invites))
        return dict(result.one()._mapping)

    async def get(self, invite_id: str, *, for_update: bool = False) -> Row | None:
        q = sa.select(invites).where(invites.c.id == invite_id)
        if for_update:
            q = q.with_for_update()
        row = (await self.session.execute(q)).first()
        return dict(row._mapping) if row else None

    async def live_for_user(self, user_id: str, *, for_update: bool = False) -> Row | None:
        q = sa.select(invites).where(
            invites.c.user_id == user_id, invites.c.status.in_(("Scheduled", "Sent"))
        )
        if for_update:
            q = q.with_for_update()
        row = (await self.session.execute(q)).first()
        return dict(row._mapping) if row else None

    async def update(self, invite_id: str, values: Row) -> Row:
        result = await self.session.execute(
            sa.update(invites)
            .where(invites.c.id == invite_id)
            .values(**values, updated_at=sa.func.now())
            .returning(invites)
        )
        return dict(result.one()._mapping)

    async def page(
        self,
        *,
        account_id: str,
        status: str | None,
        user_id: str | None,
        after: str | None,
        limit: int,
    ) -> list[Row]:
        q = sa.select(invites).where(invites.c.account_id == account_id).order_by(invites.c.id)
        if status:
            q = q.where(invites.c.status == status)
        if user_id:
            q = q.where(invites.c.user_id == user_id)
        if after:
            q = q.where(invites.c.id > after)
        q = q.limit(limit)
        return [dict(r._mapping) for r in (await self.session.execute(q)).all()]

    async def revoke_tokens(self, invite_ids: list[str]) -> None:
        if invite_ids:
            await self.session.execute(
                sa.update(invite_tokens)
                .where(invite_tokens.c.invite_id.in_(invite_ids), invite_tokens.c.state == "live")
                .values(state="revoked")
            )

    async def set_email_of_scheduled(self, user_id: str, email: str) -> None:
        """A link possibly mailed to the old address dies: new generation, new link."""
        ids = (
            (
                await self.session.execute(
                    sa.update(invites)
                    .where(invites.c.user_id == user_id, invites.c.status == "Scheduled")
                    .values(
                        email=email,
                        send_generation=invites.c.send_generation + 1,
                        updated_at=sa.func.now(),
                    )
                    .returning(invites.c.id)
                )
            )
            .scalars()
            .all()
        )
        await self.revoke_tokens(list(ids))

    async def add_pending_tokens(self, rows: list[Row]) -> dict[str, Row]:
        """Record the hashes of the tokens about to be mailed (before the first attempt);
        a token already recorded (a re-send) keeps its row. Returns each invite's token
        row by invite id."""
        if not rows:
            return {}
        await self.session.execute(insert(invite_tokens).values(rows).on_conflict_do_nothing())
        found = (
            await self.session.execute(
                sa.select(invite_tokens).where(
                    invite_tokens.c.token_hash.in_([r["token_hash"] for r in rows])
                )
            )
        ).all()
        return {r.invite_id: dict(r._mapping) for r in found}

    async def claim_due(self, *, limit: int, lease_seconds: float, lease_id: str) -> list[Row]:
        """Take up to ``limit`` due invites for this replica (``SKIP LOCKED``: replicas never
        take the same row); the lease lets another replica retry them if this one dies."""
        now = sa.func.now()
        due = (
            sa.select(invites.c.id)
            .where(
                invites.c.status == "Scheduled",
                invites.c.due_at <= now,
                sa.or_(invites.c.lease_until.is_(None), invites.c.lease_until < now),
                # give the account projection a moment to catch up, for the email's text
                sa.or_(
                    sa.exists().where(accounts.c.account_id == invites.c.account_id),
                    invites.c.created_at < now - _secs(10),
                ),
            )
            .order_by(invites.c.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("due")
        )
        claimed = (
            await self.session.execute(
                sa.update(invites)
                .where(invites.c.id == due.c.id)
                .values(
                    lease_until=now + _secs(lease_seconds),
                    lease_id=lease_id,
                    attempts=invites.c.attempts + 1,
                )
                .returning(
                    invites.c.id,
                    invites.c.account_id,
                    invites.c.user_id,
                    invites.c.email,
                    invites.c.attempts,
                    invites.c.send_generation,
                )
            )
        ).all()
        if not claimed:
            return []
        user_ids = list({r.user_id for r in claimed})
        account_ids = list({r.account_id for r in claimed})
        names = {
            r.user_id: (r.first_name, r.last_name)
            for r in (
                await self.session.execute(
                    sa.select(users.c.user_id, users.c.first_name, users.c.last_name).where(
                        users.c.user_id.in_(user_ids)
                    )
                )
            ).all()
        }
        account_names = {
            r.account_id: r.name
            for r in (
                await self.session.execute(
                    sa.select(accounts.c.account_id, accounts.c.name).where(
                        accounts.c.account_id.in_(account_ids)
                    )
                )
            ).all()
        }
        out = []
        for r in claimed:
            first, last = names.get(r.user_id, ("", ""))
            out.append(
                dict(r._mapping)
                | {
                    "first_name": first,
                    "last_name": last,
                    "account_name": account_names.get(r.account_id),
                }
            )
        return out

    async def mark_sent(
        self, *, invite_ids: list[str], lease_id: str, ttl_seconds: int
    ) -> list[Row]:
        """Only rows still held under this lease: an invite cancelled or resent while it
        was being mailed keeps its new state (and the mailed link stays revoked). The
        link's expiry (set when the token was recorded) moves to the invite's."""
        result = await self.session.execute(
            sa.update(invites)
            .where(
                invites.c.id.in_(invite_ids),
                invites.c.lease_id == lease_id,
                invites.c.status == "Scheduled",
            )
            .values(
                status="Sent",
                sent_at=sa.func.now(),
                expires_at=sa.func.now() + _secs(ttl_seconds),
                lease_until=None,
                lease_id=None,
                reason=None,
                updated_at=sa.func.now(),
            )
            .returning(invites)
        )
        rows = [dict(r._mapping) for r in result.all()]
        for r in rows:
            await self.session.execute(
                sa.update(invite_tokens)
                .where(invite_tokens.c.invite_id == r["id"], invite_tokens.c.state == "live")
                .values(expires_at=r["expires_at"])
            )
        return rows

    async def mark_retry(
        self, *, invite_id: str, lease_id: str, delay_seconds: float, reason: str
    ) -> None:
        await self.session.execute(
            sa.update(invites)
            .where(invites.c.id == invite_id, invites.c.lease_id == lease_id)
            .values(
                due_at=sa.func.now() + _secs(delay_seconds),
                lease_until=None,
                lease_id=None,
                reason=reason,
                updated_at=sa.func.now(),
            )
        )

    async def mark_failed(self, *, invite_id: str, lease_id: str, reason: str) -> Row | None:
        row = (
            await self.session.execute(
                sa.update(invites)
                .where(
                    invites.c.id == invite_id,
                    invites.c.lease_id == lease_id,
                    invites.c.status == "Scheduled",
                )
                .values(
                    status="Failed",
                    lease_until=None,
                    lease_id=None,
                    reason=reason,
                    updated_at=sa.func.now(),
                )
                .returning(invites)
            )
        ).first()
        if row is None:
            return None
        await self.revoke_tokens([invite_id])  # the link was never (knowingly) mailed
        return dict(row._mapping)

    async def release(self, *, invite_ids: list[str], lease_id: str) -> None:
        if invite_ids:
            await self.session.execute(
                sa.update(invites)
                .where(invites.c.id.in_(invite_ids), invites.c.lease_id == lease_id)
                .values(lease_until=None, lease_id=None, attempts=invites.c.attempts - 1)
            )

    async def seconds_to_next_due(self) -> float | None:
        value = (
            await self.session.execute(
                sa.select(
                    sa.func.extract(
                        "epoch",
                        sa.func.min(
                            sa.func.greatest(
                                invites.c.due_at,
                                sa.func.coalesce(invites.c.lease_until, invites.c.due_at),
                            )
                        )
                        - sa.func.now(),
                    )
                ).where(invites.c.status == "Scheduled")
            )
        ).scalar()
        return None if value is None else float(value)

    async def expire_due(self, *, limit: int) -> list[Row]:
        due = (
            sa.select(invites.c.id)
            .where(invites.c.status == "Sent", invites.c.expires_at <= sa.func.now())
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("expiring")
        )
        result = await self.session.execute(
            sa.update(invites)
            .where(invites.c.id == due.c.id)
            .values(status="Expired", updated_at=sa.func.now())
            .returning(invites)
        )
        return [dict(r._mapping) for r in result.all()]

    async def consume_token(self, token_hash: bytes) -> str | None:
        """Atomic single use: of two concurrent redeems the second waits for the first's
        row lock, re-checks ``state = 'live'`` and finds nothing."""
        value = (
            await self.session.execute(
                sa.update(invite_tokens)
                .where(
                    invite_tokens.c.token_hash == token_hash,
                    invite_tokens.c.state == "live",
                    invite_tokens.c.expires_at > sa.func.now(),
                )
                .values(state="used", used_at=sa.func.now())
                .returning(invite_tokens.c.invite_id)
            )
        ).scalar()
        return None if value is None else str(value)

    async def token_info(self, token_hash: bytes) -> Row | None:
        row = (
            await self.session.execute(
                sa.select(
                    invite_tokens.c.state,
                    (invite_tokens.c.expires_at <= sa.func.now()).label("expired"),
                    invites.c.id.label("invite_id"),
                    invites.c.status,
                    invites.c.user_id,
                    invites.c.account_id,
                    invites.c.email,
                )
                .join(invites, invites.c.id == invite_tokens.c.invite_id)
                .where(invite_tokens.c.token_hash == token_hash)
            )
        ).first()
        return dict(row._mapping) if row else None


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: str, *, for_update: bool = False) -> Row | None:
        q = sa.select(users).where(users.c.user_id == user_id)
        if for_update:
            q = q.with_for_update()
        row = (await self.session.execute(q)).first()
        return dict(row._mapping) if row else None

    async def upsert_snapshot(self, row: Row) -> Row | None:
        """Keep the snapshot with the highest version; None when ``row`` is older."""
        ins = insert(users).values(**row)
        stmt = ins.on_conflict_do_update(
            index_elements=[users.c.user_id],
            set_={k: ins.excluded[k] for k in row if k != "user_id"}
            | {"updated_at": sa.func.now()},
            where=users.c.version <= ins.excluded.version,
        ).returning(users)
        result = (await self.session.execute(stmt)).first()
        return dict(result._mapping) if result else None

    async def ensure(self, row: Row) -> None:
        await self.session.execute(insert(users).values(**row).on_conflict_do_nothing())

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


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(self, account_id: str, name: str) -> None:
        stmt = insert(accounts).values(account_id=account_id, name=name)
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[accounts.c.account_id],
                set_={"name": stmt.excluded.name, "updated_at": sa.func.now()},
            )
        )

    async def name(self, account_id: str) -> str | None:
        return (
            await self.session.execute(
                sa.select(accounts.c.name).where(accounts.c.account_id == account_id)
            )
        ).scalar()
