"""Invitations through the life of an account and a user (DOMAIN.md sections 3 and 6):
who may be invited, what an account's status does to its invites, and what an email
change does to a pending one."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.contracts.account import AccountFacts
from shared.errors import Conflict

from invite_scheduler import domain as d
from invite_scheduler.ports import Row, UnitOfWork

log = logging.getLogger(__name__)

ACTIVE = "Active"
SUSPENDED = "Suspended"
CLOSED = "Closed"


def invitation_refusal(account: Row | None) -> Conflict | None:
    """Why the account's users cannot be invited now, or None. An account not heard of
    yet is not refused (its facts are on the way; the scheduler holds its invites until
    they arrive, and one of a Suspended account until it is Active again)."""
    if account is None:
        return None
    if account["status"] != ACTIVE:
        return Conflict(
            f"The account is {account['status']}: its users receive no invitations.",
            {"account_id": account["account_id"], "account_status": account["status"]},
        )
    if not account["require_unique_email"]:
        return Conflict(
            "Invitations by email need the account setting require_unique_email; "
            "activate the user by assigning credentials instead.",
            {"account_id": account["account_id"], "setting": "require_unique_email"},
        )
    return None


async def require_invitable(uow: UnitOfWork, account_id: str) -> None:
    refusal = invitation_refusal(await uow.accounts.get(account_id))
    if refusal is not None:
        raise refusal


async def on_account_facts(
    facts: AccountFacts, uow: UnitOfWork, *, ttl_seconds: int, cancel: Any, emit: Any
) -> bool:
    """Keep the account's facts; on Close every live invite is cancelled (its link dies)
    and every live recovery link dies; on a return to Active the invites that waited are
    due again, except those whose send time is further back than a link lives (they
    expire: the admin resends). True when invites may be due now."""
    before = await uow.accounts.upsert(
        {
            "account_id": facts.account_id,
            "name": facts.name,
            "status": facts.status,
            "require_unique_email": facts.require_unique_email,
            "default_language": facts.default_language,
            "default_time_zone": facts.default_time_zone,
        }
    )
    previous = before["status"] if before else ACTIVE
    if facts.status == previous:
        return False
    if facts.status == CLOSED:
        for row in await uow.invites.live_of_account(facts.account_id):
            await cancel(uow, row, "account_closed")
        await uow.recoveries.revoke_live(reason="account_closed", account_id=facts.account_id)
        return False
    if facts.status == ACTIVE:
        oldest = datetime.now(UTC) - timedelta(seconds=ttl_seconds)
        for row in await uow.invites.live_of_account(facts.account_id):
            if row["status"] == d.SCHEDULED and row["send_at"] < oldest:
                await uow.invites.revoke_tokens([row["id"]])
                expired = await uow.invites.update(
                    row["id"],
                    {"status": d.EXPIRED, "reason": "account_suspended", "lease_until": None},
                )
                emit(uow, expired)
        return True
    return False


async def readdress(uow: UnitOfWork, user_id: str, email: str, emit: Any) -> bool:
    """The user's email changed: its pending invite goes to the new address with a new
    link, and every earlier link dies. A Sent invite is sent again now; a Scheduled
    one keeps its time. True when a mail is due now."""
    live = await uow.invites.live_for_user(user_id, for_update=True)
    if live is None or live["email"] == email:
        return False
    await uow.invites.revoke_tokens([live["id"]])
    values: dict[str, Any] = {
        "email": email,
        "send_generation": live["send_generation"] + 1,
        "lease_until": None,
        "lease_id": None,
    }
    if live["status"] == d.SENT:
        now = datetime.now(UTC)
        values |= {
            "status": d.SCHEDULED,
            "send_at": now,
            "due_at": now,
            "local_send_at": None,
            "time_zone": None,
            "sent_at": None,
            "expires_at": None,
            "attempts": 0,
            "reason": "email_changed",
        }
    row = await uow.invites.update(live["id"], values)
    if live["status"] == d.SENT:
        emit(uow, row)
    log.info("invite %s re-addressed after an email change", row["id"])
    return bool(row["due_at"] <= datetime.now(UTC) + timedelta(seconds=2))
