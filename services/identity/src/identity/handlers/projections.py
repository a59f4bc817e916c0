"""Other services' facts kept here: account facts, sites, cost centers, invites; the
platform operator from configuration; and the facts other services ask for.

Sites (DOMAIN.md 6, "Sites"): a user added on a site takes the site's time zone unless
given one, and keeps following it while it has no time zone of its own
(``profile.time_zone_from_site``).

User facts: engage's import meets a user its directory has not heard of (identity's
``user.added`` is still on its way: a slow outbox relay, a NATS outage): it asks here
instead of guessing from timing, and the answer is authoritative."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from shared.contracts import identity as c
from shared.contracts.account import AccountFacts
from shared.contracts.event_data import CostCenterCreated, SiteCreated, SiteRemoved, SiteUpdated
from shared.contracts.invites import InviteEvent
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


async def project_account(facts: AccountFacts, uow: UnitOfWork) -> None:
    """Keep the account facts identity needs (plan, multi-site, extension length,
    require_unique_email) from the account service's events."""
    await uow.accounts.upsert_facts(facts.facts())


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


async def project_site(site: SiteCreated | SiteUpdated, uow: UnitOfWork) -> None:
    """A site's name and time zone (the default time zone of the users on it)."""
    await uow.accounts.upsert_site(site.site_id, site.account_id, site.name, site.time_zone or None)


async def project_cost_center(cc: CostCenterCreated, uow: UnitOfWork) -> None:
    await uow.accounts.upsert_cost_center(cc.cost_center_id, cc.account_id, cc.name)


_JSON_TIME: TypeAdapter[datetime] = TypeAdapter(datetime)


async def project_invites(events: list[tuple[InviteEvent, str]], uow: UnitOfWork) -> None:
    """A fetched batch of invite events (event, CloudEvent time): the latest invite
    (status, send_at) shown on each user, in one statement; within the batch the later
    event of a user wins on equal times, as it would one at a time."""
    latest: dict[str, tuple[dict[str, Any], str]] = {}
    for ev, at in events:
        invite = {
            "invite_id": ev.invite_id,
            "status": ev.status,
            "send_at": _JSON_TIME.dump_python(ev.send_at, mode="json"),  # as on the wire
        }
        if ev.user_id not in latest or latest[ev.user_id][1] <= at:
            latest[ev.user_id] = (invite, at)
    await uow.users.set_invites([(u, inv, at) for u, (inv, at) in latest.items()])


SITE_EVENTS = "events.account.site.*"
"""``site.created`` / ``site.updated`` / ``site.removed`` of the account service."""


async def on_site_event(site: SiteCreated | SiteUpdated | SiteRemoved, uow: UnitOfWork) -> None:
    if isinstance(site, SiteRemoved):
        await uow.accounts.remove_site(site.site_id)
        return
    await project_site(site, uow)
    if isinstance(site, SiteUpdated) and site.time_zone:
        await _follow(site.account_id, site.site_id, site.time_zone, uow)


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
