"""Projections of other services' events: identity's users (type, status, site, and
the inventory a removed or changed user gives back) and invites' statuses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.contracts.event_data import UserRemoved, UserSnapshot, UserUpdated
from shared.contracts.invites import InviteEvent
from shared.messaging.outbox import make_event

from account import domain
from account.handlers.common import SOURCE
from account.handlers.metering import charge_overage
from account.ports import UnitOfWork
from shared import subjects as s

UserEvent = UserSnapshot | UserRemoved
"""What the account keeps of identity's user events: the snapshots and the removal."""


def _user_fact(ev: UserEvent) -> dict[str, Any]:
    snap = ev if isinstance(ev, UserSnapshot) else None
    return {
        "user_id": ev.user_id,
        "account_id": ev.account_id,
        "version": ev.version,
        "removed": snap is None,
        "user_type": snap.user_type if snap else None,
        "status": snap.status if snap else None,
        "site_id": snap.site_id if snap else None,
    }


async def on_user_events(events: list[tuple[UserEvent, str]], uow: UnitOfWork) -> None:
    """Keep each user's type and status (for counts and free-user metering), a whole
    batch of identity's events (event, event id) in one statement; the highest
    version of a user wins. A user who turns out to be free after their calls were
    counted is charged then."""
    latest: dict[str, dict[str, Any]] = {}
    for ev, _ in events:
        row = _user_fact(ev)
        known = latest.get(row["user_id"])
        if known is None or row["version"] >= known["version"]:
            latest[row["user_id"]] = row
    changed = await uow.projections.upsert_users(list(latest.values()))
    for ev, event_id in events:
        if isinstance(ev, UserRemoved | UserUpdated):
            await _give_back(uow, ev, event_id)
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


async def _give_back(uow: UnitOfWork, ev: UserRemoved | UserUpdated, event_id: str) -> None:
    """What a removed or changed user gave back (``released`` on identity's
    ``user.removed``/``user.updated``) returns to the account's inventory: a license to
    the free pool of its type, a number and a device to available. Once per event: the
    consumer's inbox row (consumer, event id) is written in this same transaction, so
    a redelivered event never gets here again. Only what the account holds as assigned
    goes back; anything else (another account's number, a free device) is ignored."""
    released = ev.released
    account_id, inv = ev.account_id, uow.inventory
    back: dict[str, str | None] = {"license": None, "number": None, "device_id": None}
    lic, num, dev = released.license, released.number, released.device_id
    if lic in domain.LICENSED_USER_TYPES and await inv.return_license(account_id, lic):
        back["license"] = lic
    if num and await inv.return_number(account_id, num):
        back["number"] = num
    if dev and await inv.return_device(account_id, dev):
        back["device_id"] = dev
    if any(back.values()):
        data = {"account_id": account_id, "user_id": ev.user_id, "event_id": event_id}
        uow.add_event(make_event(SOURCE, s.INVENTORY_RETURNED, data | back, key=account_id))


async def on_invite_events(events: list[tuple[InviteEvent, str]], uow: UnitOfWork) -> None:
    """A fetched batch of invite events (event, CloudEvent time): each invite's latest
    status, in one statement. Within the batch the later event of an invite wins on
    equal times, as it would one at a time (a stored later time always wins)."""
    latest: dict[str, tuple[str, str, datetime]] = {}
    for ev, time in events:
        when = datetime.fromisoformat(time) if time else datetime.now(UTC)
        held = latest.get(ev.invite_id)
        if held is None or held[2] <= when:
            latest[ev.invite_id] = (ev.account_id, ev.status, when)
    await uow.projections.upsert_invites(
        [(iid, acc, status, when) for iid, (acc, status, when) in latest.items()]
    )
