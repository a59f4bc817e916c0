"""What the use cases share: the clock, the ``Invite`` reply, one event per state
change, and the steps of creating, finding and cancelling an invite."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from shared.auth import Perm, Principal
from shared.contracts import invites as c
from shared.errors import Conflict, Forbidden, NotFound, ValidationFailed
from shared.ids import new_id
from shared.messaging.outbox import make_event

from invite_scheduler import domain as d
from invite_scheduler import handlers as _package
from invite_scheduler.ports import Row, UnitOfWork
from shared import subjects as s

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
    """Now, in UTC. Re-exported as ``handlers._now``: replacing that one (a test moves
    the clock to a coming DST change) moves every use case's, through :func:`clock`."""
    return datetime.now(UTC)


def clock() -> datetime:
    """The use cases' clock: whatever ``handlers._now`` is at the time of the call."""
    return _package._now()


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


def _plan(send_at: str, time_zone: str, now: datetime, max_days: int) -> d.Schedule:
    """When a requested local send time falls (the horizon and time-zone rules), or the
    validation error naming the field."""
    try:
        return d.plan_schedule(send_at, time_zone, now, max_days)
    except d.ScheduleError as exc:
        raise ValidationFailed.single(exc.field, exc.message) from exc


def _require_read(p: Principal, account_id: str) -> None:
    p.require_account(account_id)
    if p.operator or {Perm.INVITES_MANAGE, Perm.USERS_READ} & p.permissions:
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
    row = await uow.invites.add(new_invite(account_id, user, schedule, now))
    emit(uow, row)
    return row


def new_invite(account_id: str, user: Row, schedule: d.Schedule | None, now: datetime) -> Row:
    """The row of a new Scheduled invite to ``user`` (sent now without a schedule)."""
    send_at = schedule.send_at if schedule else now
    return {
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
