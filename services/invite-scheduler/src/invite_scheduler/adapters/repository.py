from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from invite_scheduler.adapters.tables import accounts, invite_tokens, invites, users

Row = dict[str, Any]


def seconds_interval(value: float) -> sa.ColumnElement[Any]:
    return sa.func.make_interval(0, 0, 0, 0, 0, 0, sa.literal(float(value), sa.Float))


def _account_active() -> sa.ColumnElement[bool]:
    """Invites of a Suspended (or Closed) account wait: none is claimed for sending."""
    return ~sa.exists().where(
        accounts.c.account_id == invites.c.account_id, accounts.c.status != "Active"
    )


def _due(now: sa.ColumnElement[Any], limit: int) -> sa.CTE:
    """The ids of up to ``limit`` due invites nobody holds, oldest due first, locked
    (``SKIP LOCKED``: another replica's rows are passed over, never waited for)."""
    return (
        sa.select(invites.c.id)
        .where(
            invites.c.status == "Scheduled",
            invites.c.due_at <= now,
            sa.or_(invites.c.lease_until.is_(None), invites.c.lease_until < now),
            _account_active(),
            # give the account projection a moment to catch up, for the email's text
            sa.or_(
                sa.exists().where(accounts.c.account_id == invites.c.account_id),
                invites.c.created_at < now - seconds_interval(10),
            ),
        )
        .order_by(invites.c.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
    )


def _lease(
    due: sa.CTE, now: sa.ColumnElement[Any], lease_seconds: float, lease_id: str
) -> sa.Update:
    """Lease the ``due`` rows to ``lease_id`` and count the attempt, in one statement."""
    return (
        sa.update(invites)
        .where(invites.c.id == due.c.id)
        .values(
            lease_until=now + seconds_interval(lease_seconds),
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


def _for_email(claimed: Any, u: Any, a: Any) -> Row:
    """A claimed invite with what its email says: names, and the user's own language
    and time zone, else its account's defaults."""
    return dict(claimed._mapping) | {
        "first_name": u.first_name if u else "",
        "last_name": u.last_name if u else "",
        "account_name": a.name if a else None,
        "language": (u.language if u else None) or (a.default_language if a else None),
        "time_zone": (u.time_zone if u else None) or (a.default_time_zone if a else None),
    }


class InviteRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: Row) -> Row:
        result = await self.session.execute(sa.insert(invites).values(**row).returning(invites))
        return dict(result.one()._mapping)

    async def add_many(self, rows: list[Row]) -> list[Row]:
        """New invites in one statement (a batch of invite requests)."""
        if not rows:
            return []
        # executemany ("insertmanyvalues"): compiled once, sent as multi-row inserts
        result = await self.session.execute(sa.insert(invites).returning(invites), rows)
        return [dict(r._mapping) for r in result.all()]

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

    async def live_for_users(self, user_ids: list[str]) -> dict[str, Row]:
        """The live invite of each of these users that has one, locked (in id order)."""
        if not user_ids:
            return {}
        q = (
            sa.select(invites)
            .where(invites.c.user_id.in_(user_ids), invites.c.status.in_(("Scheduled", "Sent")))
            .order_by(invites.c.id)
            .with_for_update()
        )
        return {r.user_id: dict(r._mapping) for r in (await self.session.execute(q)).all()}

    async def live_of_account(self, account_id: str) -> list[Row]:
        """The account's Scheduled and Sent invites, locked (status changes)."""
        q = (
            sa.select(invites)
            .where(invites.c.account_id == account_id, invites.c.status.in_(("Scheduled", "Sent")))
            .order_by(invites.c.id)
            .with_for_update()
        )
        return [dict(r._mapping) for r in (await self.session.execute(q)).all()]

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

    async def add_pending_tokens(self, rows: list[Row]) -> dict[str, Row]:
        """Record the hashes of the tokens about to be mailed (before the first attempt);
        a token already recorded (a re-send) keeps its row. Returns each invite's token
        row by invite id."""
        if not rows:
            return {}
        # rows as parameters (executemany), not in the statement: a multi-row VALUES
        # was compiled anew for every claimed batch
        await self.session.execute(insert(invite_tokens).on_conflict_do_nothing(), rows)
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
        claimed = (
            await self.session.execute(_lease(_due(now, limit), now, lease_seconds, lease_id))
        ).all()
        if not claimed:
            return []
        people = await self._people({r.user_id for r in claimed})
        accts = await self._accounts({r.account_id for r in claimed})
        return [_for_email(r, people.get(r.user_id), accts.get(r.account_id)) for r in claimed]

    async def _people(self, user_ids: set[str]) -> dict[str, Any]:
        """The names and regional settings of the users being mailed."""
        found = await self.session.execute(
            sa.select(
                users.c.user_id,
                users.c.first_name,
                users.c.last_name,
                users.c.language,
                users.c.time_zone,
            ).where(users.c.user_id.in_(list(user_ids)))
        )
        return {r.user_id: r for r in found.all()}

    async def _accounts(self, account_ids: set[str]) -> dict[str, Any]:
        """The names and regional defaults of their accounts."""
        found = await self.session.execute(
            sa.select(
                accounts.c.account_id,
                accounts.c.name,
                accounts.c.default_language,
                accounts.c.default_time_zone,
            ).where(accounts.c.account_id.in_(list(account_ids)))
        )
        return {r.account_id: r for r in found.all()}

    async def mark_sent(
        self, *, invite_ids: list[str], lease_id: str, ttl_seconds: int
    ) -> list[Row]:
        """Only rows still held under this lease: an invite cancelled or resent while it
        was being mailed keeps its new state (and the mailed link stays revoked). The
        link's expiry (set when the token was recorded) moves to the invite's. One
        statement (the token update a CTE of it) with the ids as one array: the same
        SQL text however many outcomes a group commit holds."""
        sent = (
            sa.update(invites)
            .where(
                invites.c.id == sa.any_(sa.bindparam("ids", invite_ids, type_=ARRAY(sa.Text))),
                invites.c.lease_id == lease_id,
                invites.c.status == "Scheduled",
            )
            .values(
                status="Sent",
                sent_at=sa.func.now(),
                expires_at=sa.func.now() + seconds_interval(ttl_seconds),
                lease_until=None,
                lease_id=None,
                reason=None,
                updated_at=sa.func.now(),
            )
            .returning(invites)
            .cte("sent")
        )
        tokens = (
            sa.update(invite_tokens)
            .where(invite_tokens.c.invite_id == sent.c.id, invite_tokens.c.state == "live")
            .values(expires_at=sent.c.expires_at)
            .cte("tokens")
        )
        result = await self.session.execute(sa.select(sent).add_cte(tokens))
        return [dict(r._mapping) for r in result.all()]

    async def mark_retry(
        self, *, invite_id: str, lease_id: str, delay_seconds: float, reason: str
    ) -> None:
        await self.session.execute(retry_later(invites, invite_id, lease_id, delay_seconds, reason))

    async def mark_failed(self, *, invite_id: str, lease_id: str, reason: str) -> Row | None:
        stmt = failed(invites, invite_id, lease_id, reason).returning(invites)
        row = (await self.session.execute(stmt)).first()
        if row is None:
            return None
        await self.revoke_tokens([invite_id])  # the link was never (knowingly) mailed
        return dict(row._mapping)

    async def release(self, *, invite_ids: list[str], lease_id: str) -> None:
        await release_leases(self.session, invites, invite_ids, lease_id)

    async def seconds_to_next_due(self) -> float | None:
        return await seconds_to_next_due(
            self.session, invites, sa.and_(invites.c.status == "Scheduled", _account_active())
        )

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


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(self, row: Row) -> Row | None:
        """The account's facts (name, status, unique-email rule, defaults); the previous
        row (None: first heard of)."""
        before = await self.get(row["account_id"], for_update=True)
        stmt = insert(accounts).values(**row)
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[accounts.c.account_id],
                set_={k: stmt.excluded[k] for k in row if k != "account_id"}
                | {"updated_at": sa.func.now()},
            )
        )
        return before

    async def get_many(self, account_ids: list[str]) -> dict[str, Row]:
        if not account_ids:
            return {}
        q = sa.select(accounts).where(accounts.c.account_id.in_(account_ids))
        return {r.account_id: dict(r._mapping) for r in (await self.session.execute(q)).all()}

    async def get(self, account_id: str, *, for_update: bool = False) -> Row | None:
        q = sa.select(accounts).where(accounts.c.account_id == account_id)
        if for_update:
            q = q.with_for_update()
        row = (await self.session.execute(q)).first()
        return dict(row._mapping) if row else None

    async def name(self, account_id: str) -> str | None:
        return (
            await self.session.execute(
                sa.select(accounts.c.name).where(accounts.c.account_id == account_id)
            )
        ).scalar()


def retry_later(
    table: sa.Table, row_id: str, lease_id: str, delay_seconds: float, reason: str
) -> sa.Update:
    """A send that failed transiently: due again in ``delay_seconds``, lease given up
    (only by the sender still holding it)."""
    return (
        sa.update(table)
        .where(table.c.id == row_id, table.c.lease_id == lease_id)
        .values(
            due_at=sa.func.now() + seconds_interval(delay_seconds),
            lease_until=None,
            lease_id=None,
            reason=reason,
            updated_at=sa.func.now(),
        )
    )


def failed(table: sa.Table, row_id: str, lease_id: str, reason: str) -> sa.Update:
    """A send that can never succeed: Failed, while still Scheduled under this lease."""
    return (
        sa.update(table)
        .where(table.c.id == row_id, table.c.lease_id == lease_id, table.c.status == "Scheduled")
        .values(
            status="Failed",
            lease_until=None,
            lease_id=None,
            reason=reason,
            updated_at=sa.func.now(),
        )
    )


async def release_leases(
    session: AsyncSession, table: sa.Table, ids: list[str], lease_id: str
) -> None:
    """Give back the leases a sender holds on rows it did not send (the attempt it
    counted is given back too): another sender may take them at once."""
    if ids:
        await session.execute(
            sa.update(table)
            .where(table.c.id.in_(ids), table.c.lease_id == lease_id)
            .values(lease_until=None, lease_id=None, attempts=table.c.attempts - 1)
        )


async def seconds_to_next_due(
    session: AsyncSession, table: sa.Table, due: sa.ColumnElement[bool]
) -> float | None:
    """Seconds until the next row matching ``due`` may be taken (its due time, or the
    end of its lease); None when there is none."""
    next_at = sa.func.min(
        sa.func.greatest(table.c.due_at, sa.func.coalesce(table.c.lease_until, table.c.due_at))
    )
    q = sa.select(sa.func.extract("epoch", next_at - sa.func.now())).where(due)
    value = (await session.execute(q)).scalar()
    return None if value is None else float(value)
