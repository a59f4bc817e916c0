"""Subscribers: contract in -> handler -> contract out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import cast

from shared.auth import Principal
from shared.contracts import engage as c
from shared.db import UnitOfWork
from shared.messaging.consumer import Delivery, Poison, Subscription
from shared.messaging.rpc import RpcRouter
from shared.service import Service

from engage_import import handlers as h
from engage_import.adapters.uow import EngageUnitOfWork
from engage_import.config import EngageImportConfig
from shared import subjects as s

log = logging.getLogger(__name__)

ACCOUNT_FACT_EVENTS = [s.ACCOUNT_CREATED, s.ACCOUNT_SETTINGS_UPDATED, s.ACCOUNT_STATUS_CHANGED]
DIRECTORY_CONSUMER = "engage-directory"
DIRECTORY_EVENTS = [s.USER_ADDED, s.USER_UPDATED, s.USER_ACTIVATED, s.USER_REMOVED]


def _data(d: Delivery) -> dict[str, object]:
    data = d.data.get("data")
    if not isinstance(data, dict):
        raise Poison("event without data")
    return data


def register(rpc: RpcRouter, svc: Service, config: EngageImportConfig) -> None:
    """Endpoints, consumers and the import worker (health is built in)."""
    wake = asyncio.Event()

    def uow() -> EngageUnitOfWork:
        return cast(EngageUnitOfWork, svc.uow())

    # --- links and step 1 ---------------------------------------------------------
    @rpc.endpoint(s.ENGAGE_LINKS_CREATE, c.CreateLink, c.Link, summary="Link an Engage account.")
    async def create_link(cmd: c.CreateLink, p: Principal | None) -> c.Link:
        assert p is not None
        return await h.create_link(cmd, uow(), p)

    @rpc.endpoint(
        s.ENGAGE_CANDIDATES_LIST, c.ListCandidates, c.CandidatePage, summary="Step 1: candidates."
    )
    async def candidates(cmd: c.ListCandidates, p: Principal | None) -> c.CandidatePage:
        assert p is not None
        return await h.list_candidates(cmd, uow(), p)

    # --- step 2 ---------------------------------------------------------------------
    @rpc.endpoint(s.ENGAGE_AGENTS_IMPORT, c.ImportAgents, c.ImportJob, summary="Step 2: import.")
    async def import_agents(cmd: c.ImportAgents, p: Principal | None) -> c.ImportJob:
        assert p is not None
        return await h.import_agents(cmd, uow(), p, wake.set)

    @rpc.endpoint(s.ENGAGE_IMPORTS_GET, c.GetImport, c.ImportJob, summary="An import job.")
    async def get_import(cmd: c.GetImport, p: Principal | None) -> c.ImportJob:
        assert p is not None
        return await h.get_import(cmd, uow(), p)

    @rpc.endpoint(s.ENGAGE_AGENTS_LIST, c.ListAgents, c.AgentPage, summary="Agents.")
    async def list_agents(cmd: c.ListAgents, p: Principal | None) -> c.AgentPage:
        assert p is not None
        return await h.list_agents(cmd, uow(), p)

    @rpc.endpoint(s.ENGAGE_AGENTS_GET, c.GetAgent, c.Agent, summary="One agent.")
    async def get_agent(cmd: c.GetAgent, p: Principal | None) -> c.Agent:
        assert p is not None
        return await h.get_agent(cmd, uow(), p)

    # --- roles, teams, categories -------------------------------------------------------
    @rpc.endpoint(s.ENGAGE_ROLES_LIST, c.ListInEngageAccount, c.RolePage, summary="Roles.")
    async def list_roles(cmd: c.ListInEngageAccount, p: Principal | None) -> c.RolePage:
        assert p is not None
        return await h.list_roles(cmd, uow(), p)

    @rpc.endpoint(s.ENGAGE_ROLES_CREATE, c.CreateRole, c.Role, summary="A custom role.")
    async def create_role(cmd: c.CreateRole, p: Principal | None) -> c.Role:
        assert p is not None
        return await h.create_role(cmd, uow(), p)

    @rpc.endpoint(s.ENGAGE_TEAMS_LIST, c.ListInEngageAccount, c.TeamPage, summary="Teams.")
    async def list_teams(cmd: c.ListInEngageAccount, p: Principal | None) -> c.TeamPage:
        assert p is not None
        items, nxt = await h.list_named("teams", cmd, uow(), p)
        return c.TeamPage(items=[c.Team.model_validate(i) for i in items], next_cursor=nxt)

    @rpc.endpoint(s.ENGAGE_TEAMS_CREATE, c.CreateNamed, c.Team, summary="A team.")
    async def create_team(cmd: c.CreateNamed, p: Principal | None) -> c.Team:
        assert p is not None
        return c.Team.model_validate(await h.create_named("teams", cmd, uow(), p))

    @rpc.endpoint(
        s.ENGAGE_CATEGORIES_LIST, c.ListInEngageAccount, c.CategoryPage, summary="Categories."
    )
    async def list_categories(cmd: c.ListInEngageAccount, p: Principal | None) -> c.CategoryPage:
        assert p is not None
        items, nxt = await h.list_named("categories", cmd, uow(), p)
        return c.CategoryPage(items=[c.Category.model_validate(i) for i in items], next_cursor=nxt)

    @rpc.endpoint(s.ENGAGE_CATEGORIES_CREATE, c.CreateNamed, c.Category, summary="A category.")
    async def create_category(cmd: c.CreateNamed, p: Principal | None) -> c.Category:
        assert p is not None
        return c.Category.model_validate(await h.create_named("categories", cmd, uow(), p))

    # --- Engage Voice ---------------------------------------------------------------------
    @rpc.endpoint(s.ENGAGE_VOICE_SIGN_IN, c.VoiceSignIn, c.VoiceSession, summary="Voice sign-in.")
    async def sign_in(cmd: c.VoiceSignIn, p: Principal | None) -> c.VoiceSession:
        assert p is not None
        return await h.voice_sign_in(cmd, uow(), p)

    @rpc.endpoint(s.ENGAGE_VOICE_SIGN_OUT, c.VoiceSignIn, c.VoiceSession, summary="Voice sign-out.")
    async def sign_out(cmd: c.VoiceSignIn, p: Principal | None) -> c.VoiceSession:
        assert p is not None
        return await h.voice_sign_out(cmd, uow(), p)

    # --- projections ------------------------------------------------------------------------
    async def on_account_event(d: Delivery, u: UnitOfWork) -> None:
        try:
            await h.project_account(_data(d), cast(EngageUnitOfWork, u))
        except ValueError as exc:
            raise Poison(str(exc)) from exc

    async def on_user_events(ds: list[Delivery], u: UnitOfWork) -> None:
        try:
            await h.project_users([(d.subject, _data(d)) for d in ds], cast(EngageUnitOfWork, u))
        except ValueError as exc:
            raise Poison(str(exc)) from exc

    svc.subscribe(
        Subscription(
            name="engage-account-facts",
            stream=s.STREAM_ACCOUNT,
            filter_subjects=ACCOUNT_FACT_EVENTS,
            handler=on_account_event,
            max_deliver=config.consumer_max_deliver,
        )
    )
    svc.subscribe(
        Subscription(
            name=DIRECTORY_CONSUMER,
            stream=s.STREAM_IDENTITY,
            filter_subjects=DIRECTORY_EVENTS,
            batch_handler=on_user_events,
            batch=200,
            max_deliver=config.consumer_max_deliver,
        )
    )

    # --- the import worker ------------------------------------------------------------------
    async def directory_behind(service: Service) -> bool:
        """Has engage's directory not yet applied every identity event published so far?
        (A user unknown then may still be on its way, however long an outage lasted.)"""
        runner = service.runners.get(DIRECTORY_CONSUMER)
        if runner is None:
            return False
        try:
            # asked inside the chunk's transaction, only once an item's wait is up:
            # bounded, so the job's row lock is never held long
            info = await service.js.consumer_info(runner.sub.stream, runner.sub.name, timeout=1.0)
        except Exception:
            return True  # cannot tell: keep waiting rather than reject
        return (info.num_pending or 0) + (info.num_ack_pending or 0) > 0

    async def import_worker(service: Service) -> None:
        """Works open import jobs chunk by chunk; every instance runs one."""
        while True:
            try:
                busy = await h.work_next_chunk(
                    uow(),
                    config.import_chunk_size,
                    wait_unknown=config.import_unknown_user_wait_seconds,
                    retry_unknown=config.import_unknown_user_retry_seconds,
                    directory_behind=lambda: directory_behind(service),
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
