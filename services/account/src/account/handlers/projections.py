"""Projections of other services' events: identity's users (type, status, site, and
the inventory a removed or changed user gives back) and invites' statuses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from shared.contracts.event_data import Released
from shared.messaging.outbox import make_event

from account import domain
from account.handlers.common import SOURCE
from account.handlers.metering import charge_overage
from account.ports import UnitOfWork
from shared import subjects as s


def _user_fact(subject: str, data: dict[str, Any]) -> dict[str, Any]:
    user_id, account_id = data.get("user_id"), data.get("account_id")
    if not isinstance(user_id, str) or not isinstance(account_id, str):
        raise ValueError("user event without user_id/account_id")
    removed = subject == s.USER_REMOVED
    return {
        "user_id": user_id,
        "account_id": account_id,
        "version": int(data.get("version") or 0),
        "removed": removed,
        "user_type": None if removed else data.get("user_type"),
        "status": None if removed else data.get("status"),
        "site_id": None if removed else data.get("site_id"),
    }


async def on_user_events(events: list[tuple[str, dict[str, Any], str]], uow: UnitOfWork) -> None:
    """Keep each user's type and status (for counts and free-user metering), a whole
    batch of identity's events (subject, data, event id) in one statement; the highest
    version of a user wins. A user who turns out to be free after their calls were
    counted is charged then."""
    latest: dict[str, dict[str, Any]] = {}
    for subject, data, _ in events:
        row = _user_fact(subject, data)
        known = latest.get(row["user_id"])
        if known is None or row["version"] >= known["version"]:
            latest[row["user_id"]] = row
    changed = await uow.projections.upsert_users(list(latest.values()))
    for subject, data, event_id in events:
        if subject in (s.USER_REMOVED, s.USER_UPDATED):
            await _give_back(uow, data, event_id)
    for user_id in changed:
        row = latest[user_id]
        if row["removed"] or row["user_type"] != "free":
            continue
        over = await uow.projections.cycles_over(
            row["account_id"], user_id, domain.FREE_CALLS_PER_CYCLE
        )
        if over:
            acc = await uow.accounts.get(row["account_id"])
            if acc is not None:
                for r in over:
                    await charge_overage(uow, acc, user_id, r["cycle"])


def _released(data: dict[str, Any]) -> Released | None:
    raw = data.get("released")
    if raw is None:
        return None
    try:
        return Released.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(f"user event with a bad 'released': {exc}") from exc


async def _give_back(uow: UnitOfWork, data: dict[str, Any], event_id: str) -> None:
    """What a removed or changed user gave back (``released`` on identity's
    ``user.removed``/``user.updated``) returns to the account's inventory: a license to
    the free pool of its type, a number and a device to available. Once per event: the
    consumer's inbox row (consumer, event id) is written in this same transaction, so
    a redelivered event never gets here again. Only what the account holds as assigned
    goes back; anything else (another account's number, a free device) is ignored."""
    released = _released(data)
    if released is None:
        return
    account_id, inv = str(data["account_id"]), uow.inventory
    back: dict[str, str | None] = {"license": None, "number": None, "device_id": None}
    lic, num, dev = released.license, released.number, released.device_id
    if lic in domain.LICENSED_USER_TYPES and await inv.return_license(account_id, lic):
        back["license"] = lic
    if num and await inv.return_number(account_id, num):
        back["number"] = num
    if dev and await inv.return_device(account_id, dev):
        back["device_id"] = dev
    if any(back.values()):
        ev = {"account_id": account_id, "user_id": data["user_id"], "event_id": event_id}
        uow.add_event(make_event(SOURCE, s.INVENTORY_RETURNED, ev | back, key=account_id))


async def on_invite_events(events: list[tuple[dict[str, Any], str]], uow: UnitOfWork) -> None:
    """A fetched batch of invite events (data, CloudEvent time): each invite's latest
    status, in one statement. Within the batch the later event of an invite wins on
    equal times, as it would one at a time (a stored later time always wins)."""
    latest: dict[str, tuple[str, str, datetime]] = {}
    for data, time in events:
        invite_id, account_id, status = (
            data.get("invite_id"),
            data.get("account_id"),
            data.get("status"),
        )
        if not (
            isinstance(invite_id, str) and isinstance(account_id, str) and isinstance(status, str)
        ):
            raise ValueError("invite event without invite_id/account_id/status")
        when = datetime.fromisoformat(time) if time else datetime.now(UTC)
        held = latest.get(invite_id)
        if held is None or held[2] <= when:
            latest[invite_id] = (account_id, status, when)
    await uow.projections.upsert_invites(
        [(iid, acc, status, when) for iid, (acc, status, when) in latest.items()]
    )
