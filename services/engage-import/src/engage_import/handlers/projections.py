"""Projections of other services' events: the account facts and the directory of
phone-system users (and, through it, the agents that follow them)."""

from __future__ import annotations

from typing import Any

from shared.contracts.account import AccountFacts

from engage_import.domain.model import CLOSED_FOR_VOICE
from engage_import.handlers.follow import follow_users
from engage_import.handlers.voice import signed_out
from engage_import.ports import Row, UnitOfWork
from shared import subjects as s

#: the user events an agent follows (a user is never an agent before it is added)
FOLLOWED_EVENTS = frozenset({s.USER_UPDATED, s.USER_ACTIVATED, s.USER_REMOVED})


async def project_account(data: dict[str, Any], uow: UnitOfWork) -> None:
    """Keep what engage-import needs of a phone-system account (its defaults and
    status); the Engage Voice sessions of a Suspended or Closed account end."""
    facts = AccountFacts.model_validate(data)
    await uow.accounts.upsert(facts.model_dump())
    if facts.status in CLOSED_FOR_VOICE:
        signed_out(uow, await uow.voice.end(account_id=facts.account_id), "account_not_active")


def directory_row(subject: str, data: dict[str, Any]) -> Row:
    """A directory row from an identity user event; ``ValueError`` when it cannot be one."""
    user_id, account_id, version = data.get("user_id"), data.get("account_id"), data.get("version")
    if (
        not isinstance(user_id, str)
        or not user_id
        or not isinstance(account_id, str)
        or not account_id
    ):
        raise ValueError("user event without user_id/account_id")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValueError("user event without an integer version")
    row: Row = {"user_id": user_id, "account_id": account_id, "version": version}
    if subject == s.USER_REMOVED:
        return row | {"removed": True}
    regional = data.get("regional") or {}
    if not isinstance(regional, dict):
        regional = {}

    def text(key: str, limit: int) -> str:
        value = data.get(key)
        return str(value)[:limit] if value is not None else ""

    def opt(value: Any, limit: int) -> str | None:
        return str(value)[:limit] if value else None

    return row | {
        "removed": False,
        "first_name": text("first_name", 120),
        "last_name": text("last_name", 120),
        "email": text("email", 320),
        "status": opt(data.get("status"), 20),
        "time_zone": opt(regional.get("time_zone"), 64),
        "language": opt(regional.get("language"), 35),
    }


async def project_users(events: list[tuple[str, dict[str, Any]]], uow: UnitOfWork) -> None:
    """The directory projection keeps the highest version of every user; a batch of
    identity's user events is applied in one go."""
    latest: dict[str, Row] = {}
    for subject, data in events:
        row = directory_row(subject, data)
        known = latest.get(row["user_id"])
        if known is None or row["version"] >= known["version"]:
            latest[row["user_id"]] = row
    await uow.directory.upsert_many(list(latest.values()))
    changed = {d["user_id"] for subject, d in events if subject in FOLLOWED_EVENTS}
    if changed:
        await follow_users(uow, sorted(changed))
