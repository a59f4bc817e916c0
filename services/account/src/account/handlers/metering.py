"""Free-user call metering: calls from the telephony platform, counted per user and
billing cycle; a free user over the threshold costs one charge per cycle."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.contracts.event_data import CallCompleted
from shared.messaging.outbox import make_event

from account import domain
from account.handlers.common import SOURCE, charge_row, to_charge
from account.ports import UnitOfWork
from shared import subjects as s


async def charge_overage(uow: UnitOfWork, acc: domain.Account, user_id: str, cycle: str) -> None:
    row = charge_row(acc, "free_user_overage", "free_user_overage", 1, None) | {
        "user_id": user_id,
        "cycle": cycle,
    }
    created = await uow.charges.add_overage(row)
    if created is not None:
        charge = to_charge(created).model_dump(mode="json")
        uow.add_event(make_event(SOURCE, s.CHARGE_RECORDED, charge, key=acc.id))


async def on_call_completed(call: CallCompleted, uow: UnitOfWork) -> None:
    """Count a call against its user for the cycle (calendar month in the account's
    time zone). Calls of users not yet known are counted anyway; the overage is
    decided when the user's type is known (here, or when identity's event arrives)."""
    account_id, user_id = call.account_id, call.user_id
    try:
        started = datetime.fromisoformat(call.started_at.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"call event is not valid: {exc}") from exc
    acc = await uow.accounts.get(account_id)
    if acc is None:
        raise ValueError(f"call event for unknown account {account_id}")
    cycle = domain.billing_cycle(started, acc.default_time_zone)
    calls = await uow.projections.count_call(account_id, user_id, cycle)
    if calls <= domain.FREE_CALLS_PER_CYCLE:
        return
    user = await uow.projections.user(user_id)
    if user is not None and not user["removed"] and domain.overage_due(calls, user["user_type"]):
        await charge_overage(uow, acc, user_id, cycle)


def call_id_of(subject: str, data: dict[str, Any], headers: dict[str, str]) -> str:
    """Calls are deduplicated by ``call_id`` (the inbox key), whatever the envelope."""
    inner = data.get("data")
    cid = (inner if isinstance(inner, dict) else data).get("call_id")
    return str(cid) if cid else ""
