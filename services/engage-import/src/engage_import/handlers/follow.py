"""Agents follow the phone system: identity's user events, once the directory
projection has applied them, change the agents of those users (DOMAIN.md sections 5
and 6). Names, email, time zone and language follow (mapped as on import); a
Disabled user's agent is disabled and signed out of Engage Voice (Enabled again when
the user is); a removed user's agent is removed and signed out."""

from __future__ import annotations

from collections.abc import Iterable

from engage_import.domain.model import Agent, DirectoryUser, EngageLink
from engage_import.handlers.agents import agent_updated, remove
from engage_import.handlers.voice import signed_out
from engage_import.ports import UnitOfWork


async def follow_users(uow: UnitOfWork, user_ids: Iterable[str]) -> None:
    """Bring every agent of these users in line with the directory as it now stands
    (so replays and out-of-order events change nothing twice)."""
    rows = await uow.agents.of_users(user_ids)
    if not rows:
        return
    users = await uow.directory.many(r["user_id"] for r in rows)
    links = {
        r["id"]: EngageLink.from_row(r)
        for r in await uow.links.many(r["engage_account_id"] for r in rows)
    }
    for row in rows:
        agent, found = Agent.from_row(row), users.get(row["user_id"])
        link = links.get(agent.engage_account_id)
        if found is None or link is None:
            continue
        user = DirectoryUser.from_row(found)
        if user.removed or user.account_id != agent.account_id:
            await remove(uow, agent, "phone_system")
        else:
            await _follow(uow, agent, user, link)


async def _follow(uow: UnitOfWork, agent: Agent, user: DirectoryUser, link: EngageLink) -> None:
    new, changed = agent.follow(user, link)
    if not changed:
        return
    await uow.agents.update(agent.id, new.values(changed))
    agent_updated(uow, new, changed, "phone_system")
    if "status" in changed and not new.enabled:
        ended = await uow.voice.end(account_id=agent.account_id, user_id=agent.user_id)
        signed_out(uow, ended, "agent_disabled")
    elif new.voice_login != agent.voice_login:
        # the login is the email: a session under the old one ends (sign in again)
        ended = await uow.voice.end(
            login=agent.voice_login, account_id=agent.account_id, user_id=agent.user_id
        )
        signed_out(uow, ended, "email_changed")
