"""The scheduler's steps (invite_scheduler.scheduler): claim due invites with their
links' tokens recorded, record what the SMTP server said, release, expire."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from invite_scheduler import domain as d
from invite_scheduler.handlers.common import clock, emit
from invite_scheduler.ports import UnitOfWork


@dataclass(frozen=True)
class Claimed:
    invite_id: str
    account_id: str
    user_id: str
    email: str
    first_name: str
    last_name: str
    account_name: str | None
    attempts: int
    generation: int = 0
    token: str = ""  # the link's token: derived, never stored (only its hash is)
    expires_at: datetime | None = None  # the token's
    language: str | None = None  # the email's (the user's, else its account's default)
    time_zone: str | None = None  # the expiry is shown in it


@dataclass(frozen=True)
class Outcome:
    invite_id: str
    attempts: int
    sent: bool = False  # the SMTP server took the message
    error: d.DeliveryFailed | None = None


async def claim_due(
    uow: UnitOfWork,
    *,
    limit: int,
    lease_seconds: float,
    lease_id: str,
    token_key: bytes,
    ttl_seconds: int,
) -> list[Claimed]:
    """Lease due invites and record the hash of each one's token in the same
    transaction, before any mail goes out: a link that reaches someone is known."""
    async with uow:
        rows = await uow.invites.claim_due(
            limit=limit, lease_seconds=lease_seconds, lease_id=lease_id
        )
        tokens = {r["id"]: d.derive_token(token_key, r["id"], r["send_generation"]) for r in rows}
        expires = clock() + timedelta(seconds=ttl_seconds)
        recorded = await uow.invites.add_pending_tokens(
            [
                {
                    "token_hash": d.hash_token(t),
                    "invite_id": i,
                    "state": "live",
                    "expires_at": expires,
                }
                for i, t in tokens.items()
            ]
        )
        await uow.commit()
    return [
        Claimed(
            invite_id=r["id"],
            account_id=r["account_id"],
            user_id=r["user_id"],
            email=r["email"],
            first_name=r["first_name"] or "",
            last_name=r["last_name"] or "",
            account_name=r["account_name"],
            attempts=r["attempts"],
            generation=r["send_generation"],
            token=tokens[r["id"]],
            expires_at=recorded[r["id"]]["expires_at"] if r["id"] in recorded else expires,
            language=r.get("language"),
            time_zone=r.get("time_zone"),
        )
        for r in rows
    ]


async def record_outcomes(
    uow: UnitOfWork,
    outcomes: list[Outcome],
    *,
    lease_id: str,
    ttl_seconds: int,
    max_attempts: int,
    retry_delays: list[float],
) -> None:
    """Sent invites become ``Sent`` (their token was recorded at claim time); a
    transient failure is retried later with backoff until ``max_attempts``; then, or
    at a permanent one, ``Failed`` (and the unsent link revoked)."""
    async with uow:
        sent = [o.invite_id for o in outcomes if o.sent]
        if sent:
            for r in await uow.invites.mark_sent(
                invite_ids=sent, lease_id=lease_id, ttl_seconds=ttl_seconds
            ):
                emit(uow, r)
        for o in outcomes:
            if o.sent or o.error is None:
                continue
            if o.error.transient and o.attempts < max_attempts:
                await uow.invites.mark_retry(
                    invite_id=o.invite_id,
                    lease_id=lease_id,
                    delay_seconds=d.retry_delay(o.attempts, retry_delays),
                    reason=o.error.reason,
                )
            else:
                failed = await uow.invites.mark_failed(
                    invite_id=o.invite_id, lease_id=lease_id, reason=o.error.reason
                )
                if failed is not None:
                    emit(uow, failed)
        await uow.commit()


async def release(uow: UnitOfWork, invite_ids: list[str], lease_id: str) -> None:
    async with uow:
        await uow.invites.release(invite_ids=invite_ids, lease_id=lease_id)
        await uow.commit()


async def seconds_to_next_due(uow: UnitOfWork) -> float | None:
    async with uow:
        return await uow.invites.seconds_to_next_due()


async def expire_due(uow: UnitOfWork, *, limit: int = 500) -> int:
    """Sent invites past their link's expiry become ``Expired`` (one event each)."""
    async with uow:
        rows = await uow.invites.expire_due(limit=limit)
        for r in rows:
            emit(uow, r)
        await uow.commit()
    return len(rows)
