"""Subscribers: contract in -> handler -> contract out."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from shared.auth import Principal
from shared.contracts import invites as c
from shared.db import UnitOfWork as BaseUnitOfWork
from shared.messaging.consumer import Delivery, Poison, Subscription
from shared.messaging.rpc import RpcRouter
from shared.service import Service

from invite_scheduler import handlers as h
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
]
ACCOUNT_EVENTS = [s.ACCOUNT_CREATED, s.ACCOUNT_SETTINGS_UPDATED, s.ACCOUNT_STATUS_CHANGED]


def _data(dlv: Delivery) -> dict[str, Any]:
    data = dlv.data.get("data")
    if not isinstance(data, dict):
        raise Poison("event without data")
    return data


def register(rpc: RpcRouter, svc: Service, config: InviteSchedulerConfig) -> Dispatcher:
    def uow() -> InviteUnitOfWork:
        return cast(InviteUnitOfWork, svc.uow())

    mailer = SmtpMailer(
        host=config.smtp_host,
        port=config.smtp_port,
        sender=config.mail_from,
        pool_size=config.smtp_pool_size,
        timeout=config.smtp_timeout,
        username=config.smtp_username,
        password=config.smtp_password,
        starttls=config.smtp_starttls,
    )
    dispatcher = Dispatcher(config, uow, TracedMailer(mailer))
    wake = dispatcher.wake
    days = config.max_schedule_days

    @rpc.endpoint(s.INVITES_SEND, c.SendInvite, c.Invite, summary="Send an invite now.")
    async def send(cmd: c.SendInvite, p: Principal | None) -> c.Invite:
        assert p is not None
        return await h.send_invite(cmd, uow(), p, wake)

    @rpc.endpoint(s.INVITES_SCHEDULE, c.ScheduleInvite, c.Invite, summary="Schedule an invite.")
    async def schedule(cmd: c.ScheduleInvite, p: Principal | None) -> c.Invite:
        assert p is not None
        return await h.schedule_invite(cmd, uow(), p, wake, days)

    @rpc.endpoint(
        s.INVITES_RESCHEDULE, c.RescheduleInvite, c.Invite, summary="Move a scheduled invite."
    )
    async def reschedule(cmd: c.RescheduleInvite, p: Principal | None) -> c.Invite:
        assert p is not None
        return await h.reschedule_invite(cmd, uow(), p, wake, days)

    @rpc.endpoint(s.INVITES_CANCEL, c.CancelInvite, c.Invite, summary="Cancel an invite.")
    async def cancel(cmd: c.CancelInvite, p: Principal | None) -> c.Invite:
        assert p is not None
        return await h.cancel_invite(cmd, uow(), p)

    @rpc.endpoint(s.INVITES_RESEND, c.ResendInvite, c.Invite, summary="Resend with a new link.")
    async def resend(cmd: c.ResendInvite, p: Principal | None) -> c.Invite:
        assert p is not None
        return await h.resend_invite(cmd, uow(), p, wake)

    @rpc.endpoint(s.INVITES_GET, c.GetInvite, c.Invite, summary="Get an invite.")
    async def get(cmd: c.GetInvite, p: Principal | None) -> c.Invite:
        assert p is not None
        return await h.get_invite(cmd, uow(), p)

    @rpc.endpoint(s.INVITES_LIST, c.ListInvites, c.InvitePage, summary="List invites.")
    async def list_(cmd: c.ListInvites, p: Principal | None) -> c.InvitePage:
        assert p is not None
        return await h.list_invites(cmd, uow(), p)

    @rpc.endpoint(
        s.INVITES_REDEEM,
        c.RedeemInvite,
        c.Redeemed,
        internal=True,
        summary="(internal) Consume an activation token.",
    )
    async def redeem(cmd: c.RedeemInvite, p: Principal | None) -> c.Redeemed:
        return await h.redeem(cmd, uow())

    async def on_user_event(dlv: Delivery, u: BaseUnitOfWork) -> None:
        data = _data(dlv)
        iu = cast(InviteUnitOfWork, u)
        try:
            if dlv.subject == s.USER_INVITE_REQUESTED:
                invite_traces.remember(str(data.get("email", "")).lower())
                if await h.on_invite_requested(data, iu):
                    # the consumer commits after this returns: wake the dispatcher then
                    asyncio.get_running_loop().call_later(0.05, wake)
                    asyncio.get_running_loop().call_later(0.25, wake)
            elif dlv.subject == s.USER_REMOVED:
                await h.on_user_removed(data, iu)
            else:
                await h.on_user_snapshot(data, iu)
        except h.BadEvent as exc:
            raise Poison(str(exc)) from exc

    async def on_account_event(dlv: Delivery, u: BaseUnitOfWork) -> None:
        try:
            await h.on_account_event(_data(dlv), cast(InviteUnitOfWork, u))
        except h.BadEvent as exc:
            raise Poison(str(exc)) from exc

    svc.subscribe(
        Subscription(
            name="invites-identity-users",
            stream=s.STREAM_IDENTITY,
            filter_subjects=USER_EVENTS,
            handler=on_user_event,
        )
    )
    svc.subscribe(
        Subscription(
            name="invites-account-facts",
            stream=s.STREAM_ACCOUNT,
            filter_subjects=ACCOUNT_EVENTS,
            handler=on_account_event,
        )
    )

    async def run_dispatcher(_: Service) -> None:
        await dispatcher.run()

    async def run_sweep(_: Service) -> None:
        await sweep_expired(uow, config.expiry_sweep_seconds)

    svc.add_background(run_dispatcher)
    svc.add_background(run_sweep)
    return dispatcher
