"""Agents: read them, change their role, teams and categories, remove them."""

from __future__ import annotations

from typing import Literal

from shared.auth import Perm, Principal
from shared.contracts import engage as c
from shared.errors import NotFound, ValidationFailed
from shared.messaging.outbox import make_event

from engage_import.domain.model import Agent
from engage_import.handlers.access import IDENTITY_PROVIDER, SOURCE, engage_account
from engage_import.handlers.catalog import check_assignment
from engage_import.handlers.voice import signed_out
from engage_import.ports import UnitOfWork
from shared import subjects as s

Cause = Literal["admin", "phone_system"]


def to_agent(agent: Agent, status: c.AgentStatus | None = None) -> c.Agent:
    return c.Agent(
        id=agent.id,
        engage_account_id=agent.engage_account_id,
        user_id=agent.user_id,
        first_name=agent.first_name,
        last_name=agent.last_name,
        email=agent.email,
        username=agent.username,
        role_id=agent.role_id,
        role=agent.role or agent.role_id,
        team_ids=list(agent.team_ids),
        category_ids=list(agent.category_ids),
        time_zone=agent.time_zone,
        language=agent.language,
        time_zone_mapping=c.Mapping.model_validate(agent.time_zone_mapping),
        language_mapping=c.Mapping.model_validate(agent.language_mapping),
        identity=c.IdentityLink(
            provider=IDENTITY_PROVIDER, account_id=agent.account_id, user_id=agent.user_id
        ),
        import_id=agent.import_id,
        created_at=agent.created_at,
        status=status or agent.status,
        updated_at=agent.updated_at,
    )


def agent_updated(uow: UnitOfWork, agent: Agent, changed: list[str], cause: Cause) -> None:
    data = {
        "agent_id": agent.id,
        "engage_account_id": agent.engage_account_id,
        "account_id": agent.account_id,
        "user_id": agent.user_id,
        "first_name": agent.first_name,
        "last_name": agent.last_name,
        "email": agent.email,
        "username": agent.username,
        "role_id": agent.role_id,
        "team_ids": list(agent.team_ids),
        "category_ids": list(agent.category_ids),
        "time_zone": agent.time_zone_mapping,
        "language": agent.language_mapping,
        "status": agent.status,
        "changed": changed,
        "cause": cause,
    }
    uow.add_event(make_event(SOURCE, s.ENGAGE_AGENT_UPDATED, data, key=agent.id))


async def remove(uow: UnitOfWork, agent: Agent, cause: Cause) -> None:
    """Delete the agent (its user may be imported again later), sign it out of Engage
    Voice, and say so."""
    await uow.agents.delete(agent.id)
    signed_out(uow, await uow.voice.end(agent_id=agent.id), "agent_removed")
    data = {
        "agent_id": agent.id,
        "engage_account_id": agent.engage_account_id,
        "account_id": agent.account_id,
        "user_id": agent.user_id,
        "username": agent.username,
        "email": agent.email,
        "cause": cause,
    }
    uow.add_event(make_event(SOURCE, s.ENGAGE_AGENT_REMOVED, data, key=agent.id))


async def list_agents(cmd: c.ListAgents, uow: UnitOfWork, p: Principal) -> c.AgentPage:
    async with uow:
        link = await engage_account(uow, cmd.engage_account_id, p, Perm.ENGAGE_READ)
        rows = await uow.agents.list(
            link.id,
            query=cmd.query.strip() if cmd.query else None,
            role_id=cmd.role_id,
            team_id=cmd.team_id,
            after=cmd.cursor,
            limit=cmd.limit + 1,
        )
    items = [to_agent(Agent.from_row(r)) for r in rows[: cmd.limit]]
    return c.AgentPage(items=items, next_cursor=items[-1].id if len(rows) > cmd.limit else None)


async def get_agent(cmd: c.GetAgent, uow: UnitOfWork, p: Principal) -> c.Agent:
    async with uow:
        link = await engage_account(uow, cmd.engage_account_id, p, Perm.ENGAGE_READ)
        row = await uow.agents.get(link.id, agent_id=cmd.agent_id, user_id=cmd.user_id)
    if row is None:
        raise NotFound("No such agent.", {"agent_id": cmd.agent_id, "user_id": cmd.user_id})
    return to_agent(Agent.from_row(row))


async def update_agent(cmd: c.UpdateAgent, uow: UnitOfWork, p: Principal) -> c.Agent:
    """A new role, teams or categories, each of this Engage account (as on import)."""
    async with uow:
        link = await engage_account(uow, cmd.engage_account_id, p, Perm.ENGAGE_MANAGE)
        row = await uow.agents.get(link.id, agent_id=cmd.agent_id, for_update=True)
        if row is None:
            raise NotFound("No such agent.", {"agent_id": cmd.agent_id})
        errors = await check_assignment(uow, link, cmd.role_id, cmd.team_ids, cmd.category_ids)
        if errors:
            raise ValidationFailed(
                "The change names roles, teams or categories that do not exist.", errors
            )
        agent, changed = Agent.from_row(row).assign(cmd.role_id, cmd.team_ids, cmd.category_ids)
        if changed:
            await uow.agents.update(agent.id, agent.values(changed))
            agent_updated(uow, agent, changed, "admin")
            fresh = await uow.agents.get(link.id, agent_id=agent.id)
            agent = Agent.from_row(fresh) if fresh else agent
            await uow.commit()
    return to_agent(agent)


async def remove_agent(cmd: c.RemoveAgent, uow: UnitOfWork, p: Principal) -> c.Agent:
    """The agent is gone from the Engage account and signed out of Engage Voice; its
    user stays in the phone system and may be imported again."""
    async with uow:
        link = await engage_account(uow, cmd.engage_account_id, p, Perm.ENGAGE_MANAGE)
        row = await uow.agents.get(link.id, agent_id=cmd.agent_id, for_update=True)
        if row is None:
            raise NotFound("No such agent.", {"agent_id": cmd.agent_id})
        agent = Agent.from_row(row)
        await remove(uow, agent, "admin")
        await uow.commit()
    return to_agent(agent, "Removed")
