"""Redeeming an activation link (identity's ``activation.complete``)."""

from __future__ import annotations

from shared.contracts import invites as c
from shared.errors import Conflict, NotFound

from invite_scheduler import domain as d
from invite_scheduler import lifecycle
from invite_scheduler.handlers.common import clock, emit
from invite_scheduler.ports import Row, UnitOfWork


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
    handed to the SMTP server, so a link that works is never unknown here. A link of
    a Suspended account's invite waits (refused, not consumed) until it is Active."""
    async with uow:
        info = await uow.invites.token_info(d.hash_token(cmd.token))
        account = await uow.accounts.get(info["account_id"]) if info else None
    if account is not None and account["status"] == lifecycle.SUSPENDED:
        raise Conflict(
            "The activation link does not work while the account is suspended.",
            {"reason": "account_suspended"},
        )
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
                        invite_id, {"status": d.ACCEPTED, "accepted_at": clock(), "reason": None}
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
