"""Subscribers: contract in -> handler -> contract out."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from typing import Any, cast

from shared.contracts import invites as c
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
    """Invites and recoveries identity asks for, and the users they go to: a fetched
    batch in order, each run of invite requests in a few statements."""
    recovery_key = recoveries.token_key  # the key its links are derived from

    async def on_user_event(dlv: Delivery, data: dict[str, Any], iu: InviteUnitOfWork) -> None:
        if dlv.subject == s.RECOVERY_REQUESTED:
            if await rec.on_recovery_requested(
                data, iu, token_key=recovery_key, ttl_seconds=config.recovery_ttl_seconds
            ):
                _soon(recoveries.wake)
        elif dlv.subject == s.USER_REMOVED:
            await h.on_user_removed(data, iu)
        elif await h.on_user_snapshot(data, iu):
            _soon(wake)

    async def on_user_events(ds: list[Delivery], u: BaseUnitOfWork) -> None:
        iu = cast(InviteUnitOfWork, u)
        requests: list[dict[str, Any]] = []
        try:
            for dlv in ds:
                with _handling(dlv):
                    data = dlv.event()
                    if dlv.subject == s.USER_INVITE_REQUESTED:
                        invite_traces.remember(str(data.get("email", "")).lower())
                        requests.append(data)
                        continue
                    if requests and await h.on_invite_requests(requests, iu):
                        _soon(wake)
                    requests = []
                    await on_user_event(dlv, data, iu)
            if requests and await h.on_invite_requests(requests, iu):
                _soon(wake)
        except (h.BadEvent, rec.BadRecovery) as exc:
            raise Poison(str(exc)) from exc

    svc.subscribe(
        Subscription(
            name=USER_CONSUMER,
            stream=s.STREAM_IDENTITY,
            filter_subjects=USER_EVENTS,
            batch_handler=on_user_events,
        )
    )


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
                dlv.event(), cast(InviteUnitOfWork, u), config.invite_ttl_seconds
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
