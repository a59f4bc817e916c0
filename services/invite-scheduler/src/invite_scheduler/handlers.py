"""Use cases of the invite scheduler: ``async def (cmd, uow, ...) -> reply``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from shared.auth import Perm, Principal
from shared.contracts import invites as c
from shared.errors import Conflict, Forbidden, NotFound, ValidationFailed
from shared.ids import new_id
from shared.messaging.outbox import make_event

from invite_scheduler import domain as d
from invite_scheduler.ports import Row, UnitOfWork
from shared import subjects as s

log = logging.getLogger(__name__)

SOURCE = "invite-scheduler"
Wake = Callable[[], None]

EVENT_BY_STATUS = {
    d.SCHEDULED: s.INVITE_SCHEDULED,
    d.SENT: s.INVITE_SENT,
    d.FAILED: s.INVITE_FAILED,
    d.ACCEPTED: s.INVITE_ACCEPTED,
    d.EXPIRED: s.INVITE_EXPIRED,
    d.CANCELLED: s.INVITE_CANCELLED,
}


def _now() -> datetime:
    return datetime.now(UTC)


def to_invite(row: Row) -> c.Invite:
    return c.Invite(
        id=row["id"],
        account_id=row["account_id"],
        user_id=row["user_id"],
        email=row["email"],
        status=row["status"],
        send_at=row["send_at"],
        local_send_at=row.get("local_send_at"),
        time_zone=row.get("time_zone"),
        sent_at=row.get("sent_at"),
        expires_at=row.get("expires_at"),
        attempts=row.get("attempts") or 0,
        reason=row.get("reason"),
        created_at=row.get("created_at"),
    )


def emit(uow: UnitOfWork, row: Row) -> None:
    """One event per state change, named by the new status."""
    payload = c.InviteEvent(
        invite_id=row["id"],
        account_id=row["account_id"],
        user_id=row["user_id"],
        email=row["email"],
        status=row["status"],
        send_at=row["send_at"],
        local_send_at=row.get("local_send_at"),
        time_zone=row.get("time_zone"),
        sent_at=row.get("sent_at"),
        expires_at=row.get("expires_at"),
        attempts=row.get("attempts") or 0,
        reason=row.get("reason"),
    ).model_dump(mode="json")
    uow.add_event(make_event(SOURCE, EVENT_BY_STATUS[row["status"]], payload, key=row["id"]))


def _schedule_error(exc: d.ScheduleError) -> ValidationFailed:
    return ValidationFailed.single(exc.field, exc.message)


def _require_read(principal: Principal, account_id: str) -> None:
    principal.require_account(account_id)
    if principal.operator or {Perm.INVITES_MANAGE, Perm.USERS_READ} & principal.permissions:
        return
    raise Forbidden(
        f"Missing permission '{Perm.INVITES_MANAGE}'.", {"permission": Perm.INVITES_MANAGE}
    )


async def _cancel(uow: UnitOfWork, row: Row, reason: str) -> Row:
    await uow.invites.revoke_tokens([row["id"]])
    cancelled = await uow.invites.update(
        row["id"], {"status": d.CANCELLED, "reason": reason, "lease_until": None, "lease_id": None}
    )
    emit(uow, cancelled)
    return cancelled


async def _create(
    uow: UnitOfWork, *, account_id: str, user: Row, schedule: d.Schedule | None, now: datetime
) -> Row:
    """A new Scheduled invite; a live invite of the same user is replaced (its link dies)."""
    old = await uow.invites.live_for_user(user["user_id"], for_update=True)
    if old is not None:
        await _cancel(uow, old, "replaced")
    send_at = schedule.send_at if schedule else now
    row = await uow.invites.add(
        {
            "id": new_id("inv"),
            "account_id": account_id,
            "user_id": user["user_id"],
            "email": user["email"],
            "status": d.SCHEDULED,
            "send_at": send_at,
            "local_send_at": schedule.local_send_at if schedule else None,
            "time_zone": schedule.time_zone if schedule else None,
            "due_at": send_at,
        }
    )
    emit(uow, row)
    return row


async def _invitable_user(uow: UnitOfWork, account_id: str, user_id: str) -> Row:
    user = await uow.users.get(user_id, for_update=True)
    if user is None or user["account_id"] != account_id or user["removed"]:
        raise NotFound("No such user.", {"user_id": user_id})
    if user["status"] != "NotActivated":
        raise Conflict(
            "Only a user who is not activated yet can be invited.",
            {"user_id": user_id, "status": user["status"]},
        )
    return user


async def send_invite(
    cmd: c.SendInvite, uow: UnitOfWork, principal: Principal, wake: Wake
) -> c.Invite:
    principal.require(Perm.INVITES_MANAGE, cmd.account_id)
    async with uow:
        user = await _invitable_user(uow, cmd.account_id, cmd.user_id)
        row = await _create(uow, account_id=cmd.account_id, user=user, schedule=None, now=_now())
        await uow.commit()
    wake()
    return to_invite(row)


async def schedule_invite(
    cmd: c.ScheduleInvite, uow: UnitOfWork, principal: Principal, wake: Wake, max_days: int
) -> c.Invite:
    principal.require(Perm.INVITES_MANAGE, cmd.account_id)
    now = _now()
    try:
        plan = d.plan_schedule(cmd.send_at, cmd.time_zone, now, max_days)
    except d.ScheduleError as exc:
        raise _schedule_error(exc) from exc
    async with uow:
        user = await _invitable_user(uow, cmd.account_id, cmd.user_id)
        row = await _create(uow, account_id=cmd.account_id, user=user, schedule=plan, now=now)
        await uow.commit()
    wake()
    return to_invite(row)


async def _owned(uow: UnitOfWork, account_id: str, invite_id: str) -> Row:
    row = await uow.invites.get(invite_id, for_update=True)
    if row is None or row["account_id"] != account_id:
        raise NotFound("No such invite.", {"invite_id": invite_id})
    return row


def _state_conflict(row: Row, action: str) -> Conflict:
    return Conflict(
        f"An invite that is {row['status']} cannot be {action}.",
        {"invite_id": row["id"], "status": row["status"]},
    )


async def reschedule_invite(
    cmd: c.RescheduleInvite, uow: UnitOfWork, principal: Principal, wake: Wake, max_days: int
) -> c.Invite:
    principal.require(Perm.INVITES_MANAGE, cmd.account_id)
    now = _now()
    try:
        plan = d.plan_schedule(cmd.send_at, cmd.time_zone, now, max_days)
    except d.ScheduleError as exc:
        raise _schedule_error(exc) from exc
    async with uow:
        row = await _owned(uow, cmd.account_id, cmd.invite_id)
        if row["status"] not in d.RESCHEDULABLE:
            raise _state_conflict(row, "rescheduled")
        if row["lease_until"] is not None and row["lease_until"] > now:
            raise Conflict(
                "The invite is being sent right now.",
                {"invite_id": row["id"], "status": row["status"]},
            )
        if row["status"] == d.FAILED:
            live = await uow.invites.live_for_user(row["user_id"], for_update=True)
            if live is not None:
                raise Conflict("The user has a newer invite.", {"invite_id": live["id"]})
        # a link of an earlier attempt (its mail may have gone out) dies
        await uow.invites.revoke_tokens([row["id"]])
        row = await uow.invites.update(
            row["id"],
            {
                "status": d.SCHEDULED,
                "send_at": plan.send_at,
                "local_send_at": plan.local_send_at,
                "time_zone": plan.time_zone,
                "due_at": plan.send_at,
                "attempts": 0,
                "reason": None,
                "send_generation": row["send_generation"] + 1,
            },
        )
        emit(uow, row)
        await uow.commit()
    wake()
    return to_invite(row)


async def cancel_invite(cmd: c.CancelInvite, uow: UnitOfWork, principal: Principal) -> c.Invite:
    """Cancelling a sent invite kills its link too."""
    principal.require(Perm.INVITES_MANAGE, cmd.account_id)
    async with uow:
        row = await _owned(uow, cmd.account_id, cmd.invite_id)
        if row["status"] not in d.CANCELLABLE:
            raise _state_conflict(row, "cancelled")
        row = await _cancel(uow, row, "cancelled")
        await uow.commit()
    return to_invite(row)


async def resend_invite(
    cmd: c.ResendInvite, uow: UnitOfWork, principal: Principal, wake: Wake
) -> c.Invite:
    """The same invite goes out again now with a new link; every earlier link dies."""
    principal.require(Perm.INVITES_MANAGE, cmd.account_id)
    now = _now()
    async with uow:
        row = await _owned(uow, cmd.account_id, cmd.invite_id)
        if row["status"] not in d.RESENDABLE:
            raise _state_conflict(row, "resent")
        user = await _invitable_user(uow, cmd.account_id, row["user_id"])
        if row["status"] not in d.LIVE:
            live = await uow.invites.live_for_user(row["user_id"], for_update=True)
            if live is not None:
                raise Conflict("The user has a newer invite.", {"invite_id": live["id"]})
        await uow.invites.revoke_tokens([row["id"]])
        row = await uow.invites.update(
            row["id"],
            {
                "status": d.SCHEDULED,
                "email": user["email"],
                "send_at": now,
                "local_send_at": None,
                "time_zone": None,
                "due_at": now,
                "lease_until": None,
                "lease_id": None,
                "sent_at": None,
                "expires_at": None,
                "attempts": 0,
                "reason": "resent",
                "send_generation": row["send_generation"] + 1,
            },
        )
        emit(uow, row)
        await uow.commit()
    wake()
    return to_invite(row)


async def get_invite(cmd: c.GetInvite, uow: UnitOfWork, principal: Principal) -> c.Invite:
    _require_read(principal, cmd.account_id)
    async with uow:
        row = await uow.invites.get(cmd.invite_id)
    if row is None or row["account_id"] != cmd.account_id:
        raise NotFound("No such invite.", {"invite_id": cmd.invite_id})
    return to_invite(row)


async def list_invites(cmd: c.ListInvites, uow: UnitOfWork, principal: Principal) -> c.InvitePage:
    _require_read(principal, cmd.account_id)
    async with uow:
        rows = await uow.invites.page(
            account_id=cmd.account_id,
            status=cmd.status,
            user_id=cmd.user_id,
            after=cmd.cursor,
            limit=cmd.limit + 1,
        )
    items = [to_invite(r) for r in rows[: cmd.limit]]
    nxt = items[-1].id if len(rows) > cmd.limit else None
    return c.InvitePage(items=items, next_cursor=nxt)


# --- redeem (identity's activation.complete) -----------------------------------


def _redeem_error(info: Row | None) -> Exception | None:
    """Distinct reasons, and never any user data."""
    if info is None:
        return NotFound("The activation link is not valid.", {"reason": "invalid"})
    if info["state"] == "used" or info["status"] == d.ACCEPTED:
        return Conflict("The activation link has already been used.", {"reason": "used"})
    if info["state"] == "revoked" or info["status"] == d.CANCELLED:
        return Conflict("The activation link was replaced or cancelled.", {"reason": "revoked"})
    if info["expired"] or info["status"] == d.EXPIRED:
        return Conflict("The activation link has expired.", {"reason": "expired"})
    if info["status"] not in d.LIVE:
        return Conflict("The activation link was replaced or cancelled.", {"reason": "revoked"})
    return None


async def redeem(cmd: c.RedeemInvite, uow: UnitOfWork) -> c.Redeemed:
    """No wait on an unknown token: the token's hash is recorded before its mail is
    handed to the SMTP server, so a link that works is never unknown here."""
    return await _redeem_once(cmd, uow)


async def _redeem_once(cmd: c.RedeemInvite, uow: UnitOfWork) -> c.Redeemed:
    h = d.hash_token(cmd.token)
    async with uow:
        if not cmd.dry_run:
            invite_id = await uow.invites.consume_token(h)
            if invite_id is not None:
                row = await uow.invites.get(invite_id, for_update=True)
                # Scheduled: mailed, but not recorded as sent yet (or a crash in between)
                if row is not None and row["status"] in d.LIVE:
                    row = await uow.invites.update(
                        invite_id, {"status": d.ACCEPTED, "accepted_at": _now(), "reason": None}
                    )
                    emit(uow, row)
                    await uow.commit()
                    return c.Redeemed(
                        invite_id=row["id"],
                        user_id=row["user_id"],
                        account_id=row["account_id"],
                        email=row["email"],
                    )
                await uow.rollback()
        info = await uow.invites.token_info(h)
    err = _redeem_error(info)
    if err is not None:
        raise err
    assert info is not None
    return c.Redeemed(
        invite_id=info["invite_id"],
        user_id=info["user_id"],
        account_id=info["account_id"],
        email=info["email"],
    )


# --- the scheduler's steps -------------------------------------------------------


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
        expires = _now() + timedelta(seconds=ttl_seconds)
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
        for o in outcomes:
            if o.sent:
                for r in await uow.invites.mark_sent(
                    invite_ids=[o.invite_id], lease_id=lease_id, ttl_seconds=ttl_seconds
                ):
                    emit(uow, r)
                continue
            if o.error is None:
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


# --- projections of identity's and account's events -------------------------------


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore")


class InviteRequested(_Tolerant):
    user_id: str
    account_id: str
    email: str
    first_name: str = ""
    last_name: str = ""
    option: str = "send_invite"
    local_send_at: str | None = None
    time_zone: str | None = None
    send_at: datetime | None = None


class UserSnapshot(_Tolerant):
    user_id: str
    account_id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    status: str = "NotActivated"
    version: int = 0


class UserRemoved(_Tolerant):
    user_id: str
    account_id: str
    version: int = 0


class AccountNamed(_Tolerant):
    account_id: str
    name: str


class BadEvent(ValueError):
    """An event that can never be applied (dead-lettered)."""


def _parse(model: type[_Tolerant], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadEvent(str(exc)) from exc


async def on_invite_requested(data: dict[str, Any], uow: UnitOfWork) -> bool:
    """Create (send now) or schedule the invite identity asked for; the consumer's inbox
    makes this once per event. Returns True when something is due soon."""
    ev: InviteRequested = _parse(InviteRequested, data)
    now = _now()
    await uow.users.ensure(
        {
            "user_id": ev.user_id,
            "account_id": ev.account_id,
            "email": ev.email,
            "first_name": ev.first_name,
            "last_name": ev.last_name,
            "status": "NotActivated",
            "version": 0,
        }
    )
    user = await uow.users.get(ev.user_id, for_update=True)
    assert user is not None
    if user["removed"] or user["status"] != "NotActivated":
        log.info("invite for %s not created: user is %s", ev.user_id, user["status"])
        return False
    schedule = None
    if ev.option == "schedule_invite":
        try:
            schedule = d.event_schedule(ev.local_send_at, ev.time_zone, ev.send_at, now)
        except (ValueError, KeyError) as exc:
            raise BadEvent(f"unusable schedule: {exc}") from exc
    row = await _create(uow, account_id=ev.account_id, user=user, schedule=schedule, now=now)
    return bool((row["send_at"] - now).total_seconds() < 2)


async def on_user_snapshot(data: dict[str, Any], uow: UnitOfWork) -> None:
    """Keep the newest snapshot; a user who is no longer NotActivated (credentials
    assigned, disabled) gets no welcome email: live invites are cancelled."""
    ev: UserSnapshot = _parse(UserSnapshot, data)
    old = await uow.users.get(ev.user_id, for_update=True)
    values = {
        "user_id": ev.user_id,
        "account_id": ev.account_id,
        "email": ev.email if ev.email is not None else (old["email"] if old else ""),
        "first_name": ev.first_name
        if ev.first_name is not None
        else (old or {}).get("first_name", ""),
        "last_name": ev.last_name if ev.last_name is not None else (old or {}).get("last_name", ""),
        "status": ev.status,
        "version": ev.version,
    }
    row = await uow.users.upsert_snapshot(values)
    if row is None or row["removed"]:
        return
    if row["status"] != "NotActivated":
        live = await uow.invites.live_for_user(ev.user_id, for_update=True)
        if live is not None:
            await _cancel(uow, live, f"user_{row['status'].lower()}")
    elif old is not None and old["email"] != row["email"]:
        await uow.invites.set_email_of_scheduled(ev.user_id, row["email"])


async def on_user_removed(data: dict[str, Any], uow: UnitOfWork) -> None:
    ev: UserRemoved = _parse(UserRemoved, data)
    await uow.users.mark_removed(ev.user_id, ev.account_id, ev.version)
    live = await uow.invites.live_for_user(ev.user_id, for_update=True)
    if live is not None:
        await _cancel(uow, live, "user_removed")


async def on_account_event(data: dict[str, Any], uow: UnitOfWork) -> None:
    ev: AccountNamed = _parse(AccountNamed, data)
    await uow.accounts.upsert(ev.account_id, ev.name)
