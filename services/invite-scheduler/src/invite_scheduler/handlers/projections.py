"""Projections of identity's and account's events: the invites identity asks for,
the users they go to, and the accounts they belong to."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import TypeVar

from shared.contracts.account import AccountFacts
from shared.contracts.event_data import UserInviteRequested, UserRemoved, UserSnapshot

from invite_scheduler import domain as d
from invite_scheduler import lifecycle
from invite_scheduler.handlers.common import _cancel, clock, emit, new_invite
from invite_scheduler.ports import Row, UnitOfWork

log = logging.getLogger(__package__)  # invite_scheduler.handlers, as before the split


class BadEvent(ValueError):
    """An event that can never be applied (dead-lettered)."""


async def on_invite_requested(ev: UserInviteRequested, uow: UnitOfWork) -> bool:
    """One invite request (:func:`on_invite_requests` with one event)."""
    return await on_invite_requests([ev], uow)


async def on_invite_requests(events: list[UserInviteRequested], uow: UnitOfWork) -> bool:
    """Create (send now) or schedule the invites identity asked for, a fetched batch in
    a few statements; the consumer's inbox makes this once per event. The same as one
    event after another: a user's second request of the batch waits for the next round.
    True when an invite is due soon."""
    soon = False
    for evs in _by_distinct_users(events):
        soon = await _requests_of_distinct_users(evs, uow) or soon
    return soon


async def _requests_of_distinct_users(evs: list[UserInviteRequested], uow: UnitOfWork) -> bool:
    now = clock()
    await uow.users.ensure_many(
        [
            {
                "user_id": ev.user_id,
                "account_id": ev.account_id,
                "email": ev.email,
                "first_name": ev.first_name,
                "last_name": ev.last_name,
                "status": "NotActivated",
                "version": 0,
            }
            for ev in evs
        ]
    )
    people = await uow.users.get_many([ev.user_id for ev in evs])
    accounts = await uow.accounts.get_many(sorted({ev.account_id for ev in evs}))
    todo = [
        (ev.account_id, people[ev.user_id], _schedule_of(ev, now))
        for ev in evs
        if _invitable(ev, people[ev.user_id], accounts.get(ev.account_id))
    ]
    rows = await _create_many(uow, todo, now)
    return any((row["send_at"] - now).total_seconds() < 2 for row in rows)


def _schedule_of(ev: UserInviteRequested, now: datetime) -> d.Schedule | None:
    if ev.option != "schedule_invite":
        return None
    try:
        utc_hint = datetime.fromisoformat(ev.send_at) if ev.send_at is not None else None
        return d.event_schedule(ev.local_send_at, ev.time_zone, utc_hint, now)
    except (ValueError, KeyError) as exc:
        raise BadEvent(f"unusable schedule: {exc}") from exc


def _invitable(ev: UserInviteRequested, user: Row, account: Row | None) -> bool:
    if user["removed"] or user["status"] != "NotActivated":
        log.info("invite for %s not created: user is %s", ev.user_id, user["status"])
        return False
    refusal = lifecycle.invitation_refusal(account)
    if refusal is not None and not (account and account["status"] == lifecycle.SUSPENDED):
        # identity refuses these too; a Suspended account's invite is kept and waits
        log.info("invite for %s not created: %s", ev.user_id, refusal.message)
        return False
    return True


async def _create_many(
    uow: UnitOfWork, todo: list[tuple[str, Row, d.Schedule | None]], now: datetime
) -> list[Row]:
    """New Scheduled invites (as :func:`_create`, set-based): a live invite of the same
    user is replaced (its link dies)."""
    if not todo:
        return []
    live = await uow.invites.live_for_users([user["user_id"] for _, user, _ in todo])
    for old in live.values():
        await _cancel(uow, old, "replaced")
    rows = await uow.invites.add_many([new_invite(a, user, s, now) for a, user, s in todo])
    for row in rows:
        emit(uow, row)
    return rows


async def on_user_snapshot(ev: UserSnapshot, uow: UnitOfWork) -> bool:
    """One user snapshot (:func:`on_user_snapshots` with one event)."""
    return await on_user_snapshots([ev], uow)


async def on_user_snapshots(events: list[UserSnapshot], uow: UnitOfWork) -> bool:
    """Keep the newest snapshot; a user who is no longer NotActivated (credentials
    assigned, disabled) gets no welcome email: live invites are cancelled. A new email
    re-addresses the pending invite (lifecycle.readdress). A fetched batch in a few
    statements, the same as one event after another. True when a mail is due."""
    soon = False
    for evs in _by_distinct_users(events):
        olds = await uow.users.get_many([ev.user_id for ev in evs])
        rows = await uow.users.upsert_snapshots([_snapshot(ev) for ev in evs])
        active = [u for u, row in rows.items() if not row["removed"]]
        live = await uow.invites.live_for_users(
            [u for u in active if rows[u]["status"] != "NotActivated"]
        )
        for u in active:
            soon = await _snapshot_applied(uow, olds.get(u), rows[u], live.get(u)) or soon
    return soon


E = TypeVar("E", UserInviteRequested, UserSnapshot)


def _by_distinct_users(evs: list[E]) -> Iterator[list[E]]:
    """Runs of events of distinct users, in order: a user's second event of the batch
    comes in a later run than the first (so each run is one set-based step)."""
    while evs:
        distinct: dict[str, E] = {}
        later: list[E] = []
        for ev in evs:
            if ev.user_id in distinct:
                later.append(ev)
            else:
                distinct[ev.user_id] = ev
        yield list(distinct.values())
        evs = later


def _snapshot(ev: UserSnapshot) -> Row:
    return {
        "user_id": ev.user_id,
        "account_id": ev.account_id,
        "email": ev.email,
        "first_name": ev.first_name,
        "last_name": ev.last_name,
        "status": ev.status,
        "version": ev.version,
        "language": ev.regional.get("language") or None,
        "time_zone": ev.regional.get("time_zone") or None,
    }


async def _snapshot_applied(uow: UnitOfWork, old: Row | None, row: Row, live: Row | None) -> bool:
    """What a newer snapshot of a user changes (``live``: the user's live invite, read
    when the user is no longer NotActivated)."""
    user_id = row["user_id"]
    if old is not None and (old["email"] != row["email"] or row["status"] != "Enabled"):
        # a recovery link mailed to an old address, or of a user no longer enabled, dies
        await uow.recoveries.revoke_live(reason="user_changed", user_id=user_id)
    if row["status"] != "NotActivated":
        if live is not None:
            await _cancel(uow, live, f"user_{row['status'].lower()}")
        return False
    if old is not None and old["email"] != row["email"]:
        return await lifecycle.readdress(uow, user_id, row["email"], emit)
    return False


async def on_user_removed(ev: UserRemoved, uow: UnitOfWork) -> None:
    await uow.users.mark_removed(ev.user_id, ev.account_id, ev.version)
    await uow.recoveries.revoke_live(reason="user_removed", user_id=ev.user_id)
    live = await uow.invites.live_for_user(ev.user_id, for_update=True)
    if live is not None:
        await _cancel(uow, live, "user_removed")


async def on_account_event(facts: AccountFacts, uow: UnitOfWork, ttl_seconds: int) -> bool:
    """Account facts (lifecycle.on_account_facts); True when invites may be due now."""
    return await lifecycle.on_account_facts(
        facts, uow, ttl_seconds=ttl_seconds, cancel=_cancel, emit=emit
    )
