"""An account's invites: send now, schedule, reschedule, cancel, resend, get, list."""

from __future__ import annotations

from shared.auth import Perm, Principal
from shared.contracts import invites as c
from shared.errors import Conflict, NotFound

from invite_scheduler import domain as d
from invite_scheduler import lifecycle
from invite_scheduler.handlers.common import (
    Wake,
    _cancel,
    _create,
    _invitable_user,
    _owned,
    _plan,
    _require_read,
    _state_conflict,
    clock,
    emit,
    to_invite,
)
from invite_scheduler.ports import UnitOfWork


async def send_invite(cmd: c.SendInvite, uow: UnitOfWork, p: Principal, wake: Wake) -> c.Invite:
    p.require(Perm.INVITES_MANAGE, cmd.account_id)
    async with uow:
        await lifecycle.require_invitable(uow, cmd.account_id)
        user = await _invitable_user(uow, cmd.account_id, cmd.user_id)
        row = await _create(uow, account_id=cmd.account_id, user=user, schedule=None, now=clock())
        await uow.commit()
    wake()
    return to_invite(row)


async def schedule_invite(
    cmd: c.ScheduleInvite, uow: UnitOfWork, p: Principal, wake: Wake, max_days: int
) -> c.Invite:
    p.require(Perm.INVITES_MANAGE, cmd.account_id)
    now = clock()
    plan = _plan(cmd.send_at, cmd.time_zone, now, max_days)
    async with uow:
        await lifecycle.require_invitable(uow, cmd.account_id)
        user = await _invitable_user(uow, cmd.account_id, cmd.user_id)
        row = await _create(uow, account_id=cmd.account_id, user=user, schedule=plan, now=now)
        await uow.commit()
    wake()
    return to_invite(row)


async def reschedule_invite(
    cmd: c.RescheduleInvite, uow: UnitOfWork, p: Principal, wake: Wake, max_days: int
) -> c.Invite:
    p.require(Perm.INVITES_MANAGE, cmd.account_id)
    now = clock()
    plan = _plan(cmd.send_at, cmd.time_zone, now, max_days)
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


async def cancel_invite(cmd: c.CancelInvite, uow: UnitOfWork, p: Principal) -> c.Invite:
    """Cancelling a sent invite kills its link too."""
    p.require(Perm.INVITES_MANAGE, cmd.account_id)
    async with uow:
        row = await _owned(uow, cmd.account_id, cmd.invite_id)
        if row["status"] not in d.CANCELLABLE:
            raise _state_conflict(row, "cancelled")
        row = await _cancel(uow, row, "cancelled")
        await uow.commit()
    return to_invite(row)


async def resend_invite(cmd: c.ResendInvite, uow: UnitOfWork, p: Principal, wake: Wake) -> c.Invite:
    """The same invite goes out again now with a new link; every earlier link dies."""
    p.require(Perm.INVITES_MANAGE, cmd.account_id)
    now = clock()
    async with uow:
        row = await _owned(uow, cmd.account_id, cmd.invite_id)
        if row["status"] not in d.RESENDABLE:
            raise _state_conflict(row, "resent")
        await lifecycle.require_invitable(uow, cmd.account_id)
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


async def get_invite(cmd: c.GetInvite, uow: UnitOfWork, p: Principal) -> c.Invite:
    _require_read(p, cmd.account_id)
    async with uow:
        row = await uow.invites.get(cmd.invite_id)
    if row is None or row["account_id"] != cmd.account_id:
        raise NotFound("No such invite.", {"invite_id": cmd.invite_id})
    return to_invite(row)


async def list_invites(cmd: c.ListInvites, uow: UnitOfWork, p: Principal) -> c.InvitePage:
    _require_read(p, cmd.account_id)
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
