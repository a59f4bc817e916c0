"""Other services' facts kept here: account facts, sites, cost centers, invites; the
platform operator from configuration; and the facts other services ask for.

Sites (DOMAIN.md 6, "Sites"): a user added on a site takes the site's time zone unless
given one, and keeps following it while it has no time zone of its own
(``profile.time_zone_from_site``).

User facts: engage's import meets a user its directory has not heard of (identity's
``user.added`` is still on its way: a slow outbox relay, a NATS outage): it asks here
instead of guessing from timing, and the answer is authoritative."""

from __future__ import annotations

from typing import Any

from shared.contracts import identity as c
from shared.contracts.account import AccountFacts
from shared.ids import new_id

from identity.handlers.views import _user_event, snapshot
from identity.ports import (
    AccountDirectory,
    Hasher,
    UnitOfWork,
)
from shared import subjects as s

# --- operators and account facts ---------------------------------------------


async def bootstrap_operator(uow: UnitOfWork, hasher: Hasher, email: str, password: str) -> None:
    """The platform operator from configuration (created or its password reset)."""
    hashed = await hasher.hash(password)
    async with uow:
        await uow.operators.upsert(new_id("op"), email, hashed)
        await uow.commit()


async def project_account(data: dict[str, Any], uow: UnitOfWork) -> None:
    """Keep the account facts identity needs (plan, multi-site, extension length,
    require_unique_email) from the account service's events."""
    facts = AccountFacts.model_validate(data)
    await uow.accounts.upsert_facts(facts.model_dump())


async def learn_account(account_id: str, uow: UnitOfWork, directory: AccountDirectory) -> bool:
    """An account identity has not heard of yet (its ``account.created`` event is still
    on the way): ask the account service once and keep the facts. True if it exists."""
    facts = await directory.fetch_facts(account_id)
    if facts is None:
        return False
    async with uow:
        await uow.accounts.upsert_facts(facts, only_if_absent=True)
        await uow.commit()
    return True


async def project_site(data: dict[str, Any], uow: UnitOfWork) -> None:
    """A site's name and time zone (the default time zone of the users on it)."""
    tz = data.get("time_zone")
    await uow.accounts.upsert_site(
        str(data["site_id"]),
        str(data["account_id"]),
        str(data.get("name") or ""),
        str(tz) if tz else None,
    )


async def project_cost_center(data: dict[str, Any], uow: UnitOfWork) -> None:
    await uow.accounts.upsert_cost_center(
        str(data["cost_center_id"]), str(data["account_id"]), str(data.get("name") or "")
    )


async def project_invites(events: list[tuple[dict[str, Any], str]], uow: UnitOfWork) -> None:
    """A fetched batch of invite events (data, CloudEvent time): the latest invite
    (status, send_at) shown on each user, in one statement; within the batch the later
    event of a user wins on equal times, as it would one at a time."""
    latest: dict[str, tuple[dict[str, Any], str]] = {}
    for data, at in events:
        user_id = str(data["user_id"])
        invite = {
            "invite_id": str(data["invite_id"]),
            "status": str(data["status"]),
            "send_at": data.get("send_at"),
        }
        if user_id not in latest or latest[user_id][1] <= at:
            latest[user_id] = (invite, at)
    await uow.users.set_invites([(u, inv, at) for u, (inv, at) in latest.items()])


SITE_EVENTS = "events.account.site.*"
"""``site.created`` / ``site.updated`` / ``site.removed`` of the account service."""


async def on_site_event(subject: str, data: dict[str, Any], uow: UnitOfWork) -> None:
    if subject.endswith(".removed"):
        await uow.accounts.remove_site(str(data["site_id"]))
        return
    await project_site(data, uow)
    if subject.endswith(".updated") and data.get("time_zone"):
        await _follow(str(data["account_id"]), str(data["site_id"]), str(data["time_zone"]), uow)


async def _follow(account_id: str, site_id: str, time_zone: str, uow: UnitOfWork) -> None:
    """The site's users without a time zone of their own take its new one; each changed
    user is a ``user.updated`` (in the consumer's transaction, through the outbox)."""
    for row in await uow.users.following_site(account_id, site_id):
        regional = dict(row["profile"].get("regional") or {})
        if regional.get("time_zone") == time_zone:
            continue
        profile = dict(row["profile"]) | {"regional": regional | {"time_zone": time_zone}}
        new = await uow.users.update(row["id"], {"profile": profile})
        uow.add_event(_user_event(s.USER_UPDATED, new))


async def user_facts(cmd: c.UserFactsQuery, read_uow: UnitOfWork) -> c.UserFacts:
    """The snapshots (as their events carry them) of those of ``user_ids`` that exist
    in ``account_id``; a user of another account is absent, like a missing one."""
    async with read_uow:
        rows = await read_uow.users.in_account(cmd.account_id, sorted(set(cmd.user_ids)))
    return c.UserFacts(users=[snapshot(r) for r in rows])
