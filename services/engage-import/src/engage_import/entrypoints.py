"""Subscribers: contract in -> handler -> contract out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import cast

from shared.contracts import engage as c
from shared.contracts.account import AccountFacts
from shared.db import UnitOfWork
from shared.messaging.consumer import Delivery, Poison, Subscription
from shared.messaging.rpc import Route, RpcRouter
from shared.service import Service

from engage_import import handlers as h
from engage_import.adapters.identity_client import IdentityUsers
from engage_import.adapters.uow import EngageUnitOfWork
from engage_import.config import EngageImportConfig
from shared import subjects as s

log = logging.getLogger(__name__)

ACCOUNT_FACT_EVENTS = [s.ACCOUNT_CREATED, s.ACCOUNT_SETTINGS_UPDATED, s.ACCOUNT_STATUS_CHANGED]
DIRECTORY_CONSUMER = "engage-directory"
DIRECTORY_EVENTS = [s.USER_ADDED, s.USER_UPDATED, s.USER_ACTIVATED, s.USER_REMOVED]


UowFactory = Callable[[], EngageUnitOfWork]

#: subject, request, reply, summary, use case ``(cmd, uow, p)`` (import_agents also
#: takes ``notify``: wakes the import worker)
ENDPOINTS: tuple[Route, ...] = (
    Route(s.ENGAGE_LINKS_CREATE, c.CreateLink, c.Link, "Link an Engage account.", h.create_link),
    Route(s.ENGAGE_LINKS_LIST, c.ListLinks, c.LinkPage, "The caller's links.", h.list_links),
    Route(
        s.ENGAGE_CANDIDATES_LIST,
        c.ListCandidates,
        c.CandidatePage,
        "Step 1: candidates.",
        h.list_candidates,
    ),
    Route(s.ENGAGE_IMPORTS_GET, c.GetImport, c.ImportJob, "An import job.", h.get_import),
    Route(s.ENGAGE_AGENTS_LIST, c.ListAgents, c.AgentPage, "Agents.", h.list_agents),
    Route(s.ENGAGE_AGENTS_GET, c.GetAgent, c.Agent, "One agent.", h.get_agent),
    Route(s.ENGAGE_AGENTS_UPDATE, c.UpdateAgent, c.Agent, "Change an agent.", h.update_agent),
    Route(s.ENGAGE_AGENTS_REMOVE, c.RemoveAgent, c.Agent, "Remove an agent.", h.remove_agent),
    Route(s.ENGAGE_ROLES_LIST, c.ListInEngageAccount, c.RolePage, "Roles.", h.list_roles),
    Route(s.ENGAGE_ROLES_CREATE, c.CreateRole, c.Role, "A custom role.", h.create_role),
    Route(s.ENGAGE_TEAMS_LIST, c.ListInEngageAccount, c.TeamPage, "Teams.", h.list_teams),
    Route(s.ENGAGE_TEAMS_CREATE, c.CreateNamed, c.Team, "A team.", h.create_team),
    Route(
        s.ENGAGE_CATEGORIES_LIST,
        c.ListInEngageAccount,
        c.CategoryPage,
        "Categories.",
        h.list_categories,
    ),
    Route(s.ENGAGE_CATEGORIES_CREATE, c.CreateNamed, c.Category, "A category.", h.create_category),
    Route(s.ENGAGE_VOICE_SIGN_IN, c.VoiceSignIn, c.VoiceSession, "Voice sign-in.", h.voice_sign_in),
    Route(
        s.ENGAGE_VOICE_SIGN_OUT, c.VoiceSignIn, c.VoiceSession, "Voice sign-out.", h.voice_sign_out
    ),
    Route(s.ENGAGE_AGENTS_IMPORT, c.ImportAgents, c.ImportJob, "Step 2: import.", h.import_agents),
)


def register(rpc: RpcRouter, svc: Service, config: EngageImportConfig) -> None:
    """Endpoints, consumers and the import worker (health is built in)."""
    wake = asyncio.Event()

    def uow() -> EngageUnitOfWork:
        return cast(EngageUnitOfWork, svc.uow())

    rpc.serve(ENDPOINTS, uow=uow, notify=lambda: wake.set)

    _consumers(svc, config)
    _worker(svc, config, uow, wake)


def _consumers(svc: Service, config: EngageImportConfig) -> None:
    async def on_account_event(d: Delivery, u: UnitOfWork) -> None:
        try:
            await h.project_account(d.event(AccountFacts), cast(EngageUnitOfWork, u))
        except ValueError as exc:
            raise Poison(str(exc)) from exc

    async def on_user_events(ds: list[Delivery], u: UnitOfWork) -> None:
        try:
            events = [(d.subject, d.user_event()) for d in ds]
            await h.project_users(events, cast(EngageUnitOfWork, u))
        except ValueError as exc:
            raise Poison(str(exc)) from exc

    svc.subscribe(
        Subscription(
            name="engage-account-facts",
            stream=s.STREAM_ACCOUNT,
            filter_subjects=ACCOUNT_FACT_EVENTS,
            handler=on_account_event,
        )
    )
    svc.subscribe(
        Subscription(
            name=DIRECTORY_CONSUMER,
            stream=s.STREAM_IDENTITY,
            filter_subjects=DIRECTORY_EVENTS,
            batch_handler=on_user_events,
            batch=200,
        )
    )


def _worker(svc: Service, config: EngageImportConfig, uow: UowFactory, wake: asyncio.Event) -> None:
    identity = IdentityUsers(
        lambda: svc.broker.connection, config.internal_key, config.request_timeout
    )

    async def import_worker(service: Service) -> None:
        """Works open import jobs chunk by chunk; every instance runs one."""
        while True:
            try:
                busy = await h.work_next_chunk(
                    uow(),
                    config.import_chunk_size,
                    wait_unknown=config.import_unknown_user_wait_seconds,
                    retry_unknown=config.import_unknown_user_retry_seconds,
                    ask_identity=identity.facts,
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("import chunk failed; retrying")
                busy = False
            if not busy:
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), config.import_poll_interval)

    svc.add_background(import_worker)
