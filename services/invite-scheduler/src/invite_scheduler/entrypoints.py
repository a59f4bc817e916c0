"""Subscribers: contract in -> handler -> contract out."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, cast

from pydantic import BaseModel
from shared.contracts import invites as c
from shared.contracts.account import AccountFacts
from shared.contracts.event_data import (
    RecoveryRequested,
    UserInviteRequested,
    UserRemoved,
    UserSnapshot,
)
from shared.db import UnitOfWork as BaseUnitOfWork
from shared.logs import correlation_id
from shared.messaging.consumer import Delivery, Poison, Subscription
from shared.messaging.rpc import Route, RpcRouter
from shared.service import Service
from shared.tracing import consumer_span

from invite_scheduler import handlers as h
from invite_scheduler import recovery as rec
from invite_scheduler.adapters.mailer import SmtpMailer
from invite_scheduler.adapters.traced_mailer import TracedMailer, invite_traces
from invite_scheduler.adapters.uow import InviteUnitOfWork
from invite_scheduler.config import InviteSchedulerConfig
from invite_scheduler.scheduler import Dispatcher, sweep_expired
from shared import subjects as s

USER_EVENTS = [
    s.USER_INVITE_REQUESTED,
    s.USER_ADDED,
    s.USER_UPDATED,
    s.USER_ACTIVATED,
    s.USER_REMOVED,
    s.RECOVERY_REQUESTED,
]
USER_CONSUMER = "invites-identity-users"
ACCOUNT_EVENTS = [s.ACCOUNT_CREATED, s.ACCOUNT_SETTINGS_UPDATED, s.ACCOUNT_STATUS_CHANGED]


#: subject, request, reply, summary, use case (called with ``cmd``, ``p``, ``uow``,
#: ``wake`` or ``max_days`` as its parameters name them), options
ROUTES: tuple[Route, ...] = (
    Route(s.INVITES_SEND, c.SendInvite, c.Invite, "Send an invite now.", h.send_invite),
    Route(s.INVITES_SCHEDULE, c.ScheduleInvite, c.Invite, "Schedule an invite.", h.schedule_invite),
    Route(
        s.INVITES_RESCHEDULE,
        c.RescheduleInvite,
        c.Invite,
        "Move a scheduled invite.",
        h.reschedule_invite,
    ),
    Route(s.INVITES_CANCEL, c.CancelInvite, c.Invite, "Cancel an invite.", h.cancel_invite),
    Route(s.INVITES_RESEND, c.ResendInvite, c.Invite, "Resend with a new link.", h.resend_invite),
    Route(s.INVITES_GET, c.GetInvite, c.Invite, "Get an invite.", h.get_invite),
    Route(s.INVITES_LIST, c.ListInvites, c.InvitePage, "List invites.", h.list_invites),
    Route(
        s.INVITES_REDEEM,
        c.RedeemInvite,
        c.Redeemed,
        "(internal) Consume an activation token.",
        h.redeem,
        internal=True,
    ),
    Route(
        s.INVITES_RECOVERY_REDEEM,
        c.RedeemRecovery,
        c.RecoveryRedeemed,
        "(internal) Check or consume a password recovery token, or count a wrong answer.",
        rec.redeem,
        internal=True,
    ),
)


def register(rpc: RpcRouter, svc: Service, config: InviteSchedulerConfig) -> Dispatcher:
    def uow() -> InviteUnitOfWork:
        return cast(InviteUnitOfWork, svc.uow())

    traced = TracedMailer(_mailer(config))
    dispatcher = Dispatcher(config, uow, traced)
    recoveries = rec.RecoveryDispatcher(config, uow, traced)
    wake = dispatcher.wake
    days = c.SCHEDULE_HORIZON_DAYS  # one horizon, shared with identity's users.add
    rpc.serve(ROUTES, uow=uow, wake=lambda: wake, max_days=lambda: days)
    _user_consumer(svc, config, wake, recoveries)
    _account_consumer(svc, config, wake)

    async def run_dispatcher(_: Service) -> None:
        await dispatcher.run()

    async def run_sweep(_: Service) -> None:
        await sweep_expired(uow, config.expiry_sweep_seconds)

    async def run_recoveries(_: Service) -> None:
        await recoveries.run()

    svc.add_background(run_dispatcher)
    svc.add_background(run_recoveries)
    svc.add_background(run_sweep)
    return dispatcher


def _mailer(config: InviteSchedulerConfig) -> SmtpMailer:
    return SmtpMailer(
        host=config.smtp_host,
        port=config.smtp_port,
        sender=config.mail_from,
        pool_size=config.smtp_pool_size,
        timeout=config.smtp_timeout,
        username=config.smtp_username,
        password=config.smtp_password,
        starttls=config.smtp_starttls,
    )


def _soon(fn: Callable[[], None]) -> None:
    # the consumer commits after the handler returns: wake the sender then
    asyncio.get_running_loop().call_later(0.05, fn)
    asyncio.get_running_loop().call_later(0.25, fn)


def _user_consumer(
    svc: Service,
    config: InviteSchedulerConfig,
    wake: Callable[[], None],
    recoveries: rec.RecoveryDispatcher,
) -> None:
    """Invites and recoveries identity asks for, and the users they go to."""
    events = _UserEvents(config, wake, recoveries)
    svc.subscribe(
        Subscription(
            name=USER_CONSUMER,
            stream=s.STREAM_IDENTITY,
            filter_subjects=USER_EVENTS,
            batch_handler=events.handle,
        )
    )


BatchedUseCase = Callable[[list[Any], InviteUnitOfWork], Awaitable[bool]]

#: the events applied set-based (the contract model each use case takes): a run of
#: them in a fetched batch is one call
BATCHED: dict[str, tuple[type[BaseModel], BatchedUseCase]] = {
    s.USER_INVITE_REQUESTED: (UserInviteRequested, h.on_invite_requests),
    s.USER_ADDED: (UserSnapshot, h.on_user_snapshots),
    s.USER_UPDATED: (UserSnapshot, h.on_user_snapshots),
    s.USER_ACTIVATED: (UserSnapshot, h.on_user_snapshots),
}


class _UserEvents:
    """A fetched batch of identity's user events, in order, in the batch's transaction:
    each run of invite requests, and each run of user snapshots, in a few statements;
    removals and recoveries one by one."""

    def __init__(
        self,
        config: InviteSchedulerConfig,
        wake: Callable[[], None],
        recoveries: rec.RecoveryDispatcher,
    ) -> None:
        self.config = config
        self.wake = wake
        self.recoveries = recoveries

    async def handle(self, ds: list[Delivery], u: BaseUnitOfWork) -> None:
        iu = cast(InviteUnitOfWork, u)
        run: list[BaseModel] = []
        run_of: BatchedUseCase | None = None
        try:
            for dlv in ds:
                with _handling(dlv):
                    batched = BATCHED.get(dlv.subject)
                    use_case = batched[1] if batched is not None else None
                    if run and use_case is not run_of:
                        await self._apply(run_of, run, iu)
                        run = []
                    run_of = use_case
                    if batched is None:
                        await self._one(dlv, iu)
                        continue
                    ev = dlv.event(batched[0])
                    if isinstance(ev, UserInviteRequested):
                        invite_traces.remember(ev.email.lower())
                    run.append(ev)
            await self._apply(run_of, run, iu)
        except h.BadEvent as exc:
            raise Poison(str(exc)) from exc

    async def _apply(
        self, use_case: BatchedUseCase | None, run: list[BaseModel], iu: InviteUnitOfWork
    ) -> None:
        if use_case is not None and run and await use_case(run, iu):
            _soon(self.wake)

    async def _one(self, dlv: Delivery, iu: InviteUnitOfWork) -> None:
        """An event applied on its own (after the run before it)."""
        if dlv.subject == s.RECOVERY_REQUESTED:
            if await rec.on_recovery_requested(
                dlv.event(RecoveryRequested),
                iu,
                token_key=self.recoveries.token_key,
                ttl_seconds=self.config.recovery_ttl_seconds,
            ):
                _soon(self.recoveries.wake)
        elif dlv.subject == s.USER_REMOVED:
            await h.on_user_removed(dlv.event(UserRemoved), iu)


@contextlib.contextmanager
def _handling(dlv: Delivery) -> Iterator[None]:
    """One event's correlation id and trace span (as a one-at-a-time handler has them)."""
    token = correlation_id.set(dlv.data.get("correlationid") or dlv.message_id)
    try:
        with consumer_span(USER_CONSUMER, dlv.subject, dlv.data, dlv.headers):
            yield
    finally:
        correlation_id.reset(token)


def _account_consumer(
    svc: Service, config: InviteSchedulerConfig, wake: Callable[[], None]
) -> None:
    """Account facts (lifecycle.on_account_facts): invites follow the account's status."""

    async def on_account_event(dlv: Delivery, u: BaseUnitOfWork) -> None:
        try:
            if await h.on_account_event(
                dlv.event(AccountFacts), cast(InviteUnitOfWork, u), config.invite_ttl_seconds
            ):
                _soon(wake)
        except h.BadEvent as exc:
            raise Poison(str(exc)) from exc

    svc.subscribe(
        Subscription(
            name="invites-account-facts",
            stream=s.STREAM_ACCOUNT,
            filter_subjects=ACCOUNT_EVENTS,
            handler=on_account_event,
        )
    )
