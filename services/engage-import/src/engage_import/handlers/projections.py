"""Projections of other services' events: the account facts and the directory of
phone-system users (and, through it, the agents that follow them)."""

from __future__ import annotations

from typing import Any

from shared.contracts.account import AccountFacts
from shared.contracts.event_data import UserRemoved, UserSnapshot

from engage_import.domain.model import CLOSED_FOR_VOICE
from engage_import.handlers.follow import follow_users
from engage_import.handlers.voice import signed_out
from engage_import.ports import Row, UnitOfWork
from shared import subjects as s

#: the user events an agent follows (a user is never an agent before it is added)
FOLLOWED_EVENTS = frozenset({s.USER_UPDATED, s.USER_ACTIVATED, s.USER_REMOVED})


async def project_account(facts: AccountFacts, uow: UnitOfWork) -> None:
    """Keep what engage-import needs of a phone-system account (its defaults and
    status); the Engage Voice sessions of a Suspended or Closed account end."""
    await uow.accounts.upsert(facts.facts())
    if facts.status in CLOSED_FOR_VOICE:
        signed_out(uow, await uow.voice.end(account_id=facts.account_id), "account_not_active")


UserEvent = UserSnapshot | UserRemoved
"""What the directory keeps of identity's user events: the snapshots and the removal."""


def directory_row(ev: UserEvent) -> Row:
    """A directory row from an identity user event (its contract model)."""
    row: Row = {"user_id": ev.user_id, "account_id": ev.account_id, "version": ev.version}
    if not isinstance(ev, UserSnapshot):
        return row | {"removed": True}
    regional = ev.regional
    return row | {
        "removed": False,
        "first_name": ev.first_name[:120],
        "last_name": ev.last_name[:120],
        "email": ev.email[:320],
        "status": ev.status[:20] or None,
        "time_zone": _opt(regional.get("time_zone"), 64),
        "language": _opt(regional.get("language"), 35),
    }


def _opt(value: Any, limit: int) -> str | None:
    return str(value)[:limit] if value else None


async def project_users(events: list[tuple[str, UserEvent]], uow: UnitOfWork) -> None:
    """The directory projection keeps the highest version of every user; a batch of
    identity's user events is applied in one go."""
    latest: dict[str, Row] = {}
    for _, ev in events:
        row = directory_row(ev)
        known = latest.get(row["user_id"])
        if known is None or row["version"] >= known["version"]:
            latest[row["user_id"]] = row
    await uow.directory.upsert_many(list(latest.values()))
    changed = {ev.user_id for subject, ev in events if subject in FOLLOWED_EVENTS}
    if changed:
        await follow_users(uow, sorted(changed))
