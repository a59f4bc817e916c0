"""Engage Voice sessions: who may sign in, and the one-login-one-account rule.

The rule (DOMAIN.md section 5, docs/engage-import.md "Engage Voice"): an agent's
Voice login is its email, compared case-insensitively, so the same person holds one
login however many accounts it is an agent in; that login is signed in to one
account at a time (``voice_sessions`` keyed by login). Voice also refuses a disabled
agent or user, a removed user, and the users of Suspended or Closed accounts."""

from __future__ import annotations

from typing import Literal

from shared.auth import Perm, Principal
from shared.contracts import engage as c
from shared.errors import Conflict, Forbidden, NotFound
from shared.messaging.outbox import make_event

from engage_import import domain
from engage_import.domain.model import Agent, DirectoryUser, voice_refusal
from engage_import.handlers.access import SOURCE
from engage_import.ports import Row, UnitOfWork
from shared import subjects as s

REFUSALS = {
    "agent_disabled": "Engage Voice refuses a disabled agent (its phone-system user is disabled).",
    "user_removed": "Engage Voice refuses a user removed from the phone system.",
    "account_not_active": "Engage Voice refuses the users of a suspended or closed account.",
}


def _may_act_for(p: Principal, account_id: str, user_id: str) -> None:
    """An agent signs itself in (``self``); an admin (``engage.manage``) may do it for anyone."""
    p.require_account(account_id)
    if p.operator or Perm.ENGAGE_MANAGE in p.permissions:
        return
    if p.user_id == user_id and Perm.SELF in p.permissions:
        return
    raise Forbidden("Only the agent itself or an Engage administrator may do this.")


def to_session(
    row: Row, status: Literal["signed_in", "signed_out"], reason: str | None = None
) -> c.VoiceSession:
    return c.VoiceSession(
        login=row["login"],
        user_id=row["user_id"],
        account_id=row["account_id"],
        status=status,
        agent_id=row.get("agent_id"),
        engage_account_id=row.get("engage_account_id"),
        signed_in_at=row.get("signed_in_at") if status == "signed_in" else None,
        reason=reason,
    )


def signed_out(uow: UnitOfWork, rows: list[Row], reason: str | None = None) -> None:
    """The ``voice.signed_out`` events of sessions that just ended."""
    for row in rows:
        session = to_session(row, "signed_out", reason)
        data = session.model_dump(mode="json", exclude={"reason"} if reason is None else None)
        uow.add_event(make_event(SOURCE, s.ENGAGE_VOICE_SIGNED_OUT, data, key=row["login"]))


async def _agent_login(
    uow: UnitOfWork, account_id: str, user_id: str, *, for_update: bool = False
) -> Agent:
    row = await uow.agents.for_user_in_account(account_id, user_id, for_update=for_update)
    if row is None:
        raise NotFound(
            "That user is not a contact-centre agent of this account.", {"user_id": user_id}
        )
    return Agent.from_row(row)


async def _refuse_if_closed(uow: UnitOfWork, agent: Agent) -> None:
    directory = await uow.directory.get(agent.user_id)
    # shared lock: a suspension being applied either waits for this sign-in (and then
    # ends its session) or is seen by it
    facts = await uow.accounts.get(agent.account_id, for_share=True)
    refusal = voice_refusal(
        agent,
        DirectoryUser.from_row(directory) if directory else None,
        facts["status"] if facts else None,
    )
    if refusal is not None:
        raise Conflict(REFUSALS[refusal], {"rule": refusal, "user_id": agent.user_id})


async def voice_sign_in(cmd: c.VoiceSignIn, uow: UnitOfWork, p: Principal) -> c.VoiceSession:
    """Engage Voice: an agent login (its email) is signed in to one account at a time;
    signing in again to the same account is a no-op."""
    _may_act_for(p, cmd.account_id, cmd.user_id)
    async with uow:
        # the agent row is locked: a disable or removal being applied is seen first
        agent = await _agent_login(uow, cmd.account_id, cmd.user_id, for_update=True)
        await _refuse_if_closed(uow, agent)
        login = agent.voice_login
        row = await uow.voice.insert(
            {
                "login": login,
                "account_id": cmd.account_id,
                "user_id": cmd.user_id,
                "agent_id": agent.id,
                "engage_account_id": agent.engage_account_id,
            }
        )
        if row is None:
            current = await uow.voice.get(login)
            if current is not None and (
                current["account_id"] == cmd.account_id and current["user_id"] == cmd.user_id
            ):
                return to_session(current, "signed_in")
            raise Conflict(domain.VOICE_RULE_MESSAGE, {"rule": domain.VOICE_RULE, "login": login})
        session = to_session(row, "signed_in")
        uow.add_event(
            make_event(
                SOURCE,
                s.ENGAGE_VOICE_SIGNED_IN,
                session.model_dump(mode="json", exclude={"reason"}),
                key=login,
            )
        )
        await uow.commit()
    return session


async def voice_sign_out(cmd: c.VoiceSignIn, uow: UnitOfWork, p: Principal) -> c.VoiceSession:
    """Frees the login for any account; signing out when not signed in is a no-op."""
    _may_act_for(p, cmd.account_id, cmd.user_id)
    async with uow:
        agent = await _agent_login(uow, cmd.account_id, cmd.user_id)
        login = agent.voice_login
        row = await uow.voice.delete(login, cmd.account_id, cmd.user_id)
        base = row or {
            "login": login,
            "account_id": cmd.account_id,
            "user_id": cmd.user_id,
            "agent_id": agent.id,
            "engage_account_id": agent.engage_account_id,
        }
        session = to_session(base, "signed_out")
        if row is not None:
            signed_out(uow, [row])
            await uow.commit()
    return session
