"""Subscribers: contract in -> handler -> contract out. Nothing else lives here."""

from __future__ import annotations

from typing import cast

from shared.auth import Principal
from shared.contracts import account as c
from shared.contracts.identity import Session
from shared.db import UnitOfWork as BaseUnitOfWork
from shared.messaging.consumer import Delivery, Poison, Subscription
from shared.messaging.rpc import RpcRouter
from shared.service import Service

from account import handlers as h
from account.adapters.identity_client import NatsIdentityClient, caller_token
from account.adapters.reader import PgAccountReader
from account.adapters.uow import AccountUnitOfWork
from shared import subjects as s

USER_EVENTS = [s.USER_ADDED, s.USER_UPDATED, s.USER_ACTIVATED, s.USER_REMOVED]
INVITE_EVENTS = [
    s.INVITE_SCHEDULED,
    s.INVITE_SENT,
    s.INVITE_FAILED,
    s.INVITE_ACCEPTED,
    s.INVITE_EXPIRED,
    s.INVITE_CANCELLED,
]


def register(rpc: RpcRouter, svc: Service) -> None:
    identity = NatsIdentityClient(
        svc.broker, svc.settings.internal_key, svc.settings.request_timeout
    )

    def uow() -> AccountUnitOfWork:
        return cast(AccountUnitOfWork, svc.uow())

    def reader() -> AccountUnitOfWork:
        """For queries: no transaction round trips."""
        return cast(AccountUnitOfWork, svc.uow(read_only=True))

    def who(p: Principal | None) -> Principal:
        assert p is not None
        return p

    @rpc.endpoint(s.ACCOUNTS_CREATE, c.CreateAccount, c.Account, summary="(op) Create an account.")
    async def create(cmd: c.CreateAccount, p: Principal | None) -> c.Account:
        return await h.create_account(cmd, uow(), who(p))

    @rpc.endpoint(s.ACCOUNTS_GET, c.GetAccount, c.Account, summary="Get an account.")
    async def get(cmd: c.GetAccount, p: Principal | None) -> c.Account:
        assert svc.pg is not None
        return await h.get_account(cmd, PgAccountReader(svc.pg), who(p))

    @rpc.endpoint(s.ACCOUNTS_LIST, c.ListAccounts, c.AccountPage, summary="(op) Search accounts.")
    async def list_(cmd: c.ListAccounts, p: Principal | None) -> c.AccountPage:
        return await h.list_accounts(cmd, reader(), who(p))

    @rpc.endpoint(
        s.ACCOUNTS_UPDATE_SETTINGS, c.UpdateSettings, c.Account, summary="Change default settings."
    )
    async def update_settings(cmd: c.UpdateSettings, p: Principal | None) -> c.Account:
        return await h.update_settings(cmd, uow(), who(p))

    @rpc.endpoint(s.ACCOUNTS_SET_STATUS, c.SetStatus, c.Account, summary="(op) Change status.")
    async def set_status(cmd: c.SetStatus, p: Principal | None) -> c.Account:
        return await h.set_status(cmd, uow(), who(p))

    @rpc.endpoint(s.PLANS_LIST, c.ListPlans, c.PlanList, summary="The plan catalogue.")
    async def plans(cmd: c.ListPlans, p: Principal | None) -> c.PlanList:
        return await h.list_plans(cmd, who(p))

    @rpc.endpoint(s.SITES_CREATE, c.CreateSite, c.Site, summary="Create a site (multi-site only).")
    async def create_site(cmd: c.CreateSite, p: Principal | None) -> c.Site:
        return await h.create_site(cmd, uow(), who(p))

    @rpc.endpoint(s.SITES_LIST, c.ListSites, c.SitePage, summary="List sites.")
    async def list_sites(cmd: c.ListSites, p: Principal | None) -> c.SitePage:
        return await h.list_sites(cmd, reader(), who(p))

    @rpc.endpoint(
        s.COST_CENTERS_CREATE, c.CreateCostCenter, c.CostCenter, summary="Create a cost center."
    )
    async def create_cc(cmd: c.CreateCostCenter, p: Principal | None) -> c.CostCenter:
        return await h.create_cost_center(cmd, uow(), who(p))

    @rpc.endpoint(
        s.COST_CENTERS_LIST, c.ListCostCenters, c.CostCenterPage, summary="List cost centers."
    )
    async def list_cc(cmd: c.ListCostCenters, p: Principal | None) -> c.CostCenterPage:
        return await h.list_cost_centers(cmd, reader(), who(p))

    @rpc.endpoint(
        s.INVENTORY_GET, c.GetInventory, c.Inventory, summary="Inventory with free counts."
    )
    async def inventory(cmd: c.GetInventory, p: Principal | None) -> c.Inventory:
        return await h.get_inventory(cmd, reader(), who(p))

    @rpc.endpoint(s.INVENTORY_PURCHASE, c.PurchaseInventory, c.Purchase, summary="Buy inventory.")
    async def purchase(cmd: c.PurchaseInventory, p: Principal | None) -> c.Purchase:
        return await h.purchase(cmd, uow(), who(p))

    @rpc.endpoint(s.CHARGES_LIST, c.ListCharges, c.ChargePage, summary="Charges of an account.")
    async def charges(cmd: c.ListCharges, p: Principal | None) -> c.ChargePage:
        return await h.list_charges(cmd, reader(), who(p))

    @rpc.endpoint(
        s.INVENTORY_ALLOCATE,
        c.Allocate,
        c.AllocateReply,
        internal=True,
        summary="(internal) Reserve inventory for users being added.",
    )
    async def allocate(cmd: c.Allocate, p: Principal | None) -> c.AllocateReply:
        return await h.allocate(cmd, uow(), who(p))

    @rpc.endpoint(
        s.INVENTORY_RELEASE,
        c.Release,
        c.ReleaseReply,
        internal=True,
        summary="(internal) Give back an allocation.",
    )
    async def release(cmd: c.Release, p: Principal | None) -> c.ReleaseReply:
        return await h.release(cmd, uow(), who(p))

    @rpc.endpoint(s.PORTALS_CREATE, c.CreatePortal, c.Portal, summary="Create a portal.")
    async def create_portal(cmd: c.CreatePortal, p: Principal | None) -> c.Portal:
        return await h.create_portal(cmd, uow(), who(p))

    @rpc.endpoint(s.PORTALS_LINK_CODE, c.IssueLinkCode, c.LinkCode, summary="One-time link code.")
    async def link_code(cmd: c.IssueLinkCode, p: Principal | None) -> c.LinkCode:
        return await h.issue_link_code(cmd, uow(), who(p))

    @rpc.endpoint(s.PORTALS_LINK, c.LinkAccount, c.Portal, summary="Link an account to a portal.")
    async def link(cmd: c.LinkAccount, p: Principal | None) -> c.Portal:
        return await h.link_account(cmd, uow(), who(p))

    @rpc.endpoint(s.PORTALS_UNLINK, c.UnlinkAccount, c.Portal, summary="Unlink an account.")
    async def unlink(cmd: c.UnlinkAccount, p: Principal | None) -> c.Portal:
        return await h.unlink_account(cmd, uow(), who(p))

    @rpc.endpoint(
        s.PORTALS_OVERVIEW,
        c.PortalOverviewRequest,
        c.PortalOverview,
        summary="Linked accounts' status.",
    )
    async def overview(cmd: c.PortalOverviewRequest, p: Principal | None) -> c.PortalOverview:
        return await h.portal_overview(cmd, reader(), who(p))

    @rpc.endpoint(
        s.PORTALS_SWITCH, c.SwitchAccount, Session, summary="Sign in to a linked account."
    )
    async def switch(cmd: c.SwitchAccount, p: Principal | None) -> Session:
        return await h.switch_account(cmd, uow(), who(p), identity, caller_token.get())

    # --- consumers -----------------------------------------------------------
    async def on_users(ds: list[Delivery], u: BaseUnitOfWork) -> None:
        try:
            await h.on_user_events([(d.subject, d.data) for d in ds], cast(AccountUnitOfWork, u))
        except ValueError as exc:
            raise Poison(str(exc)) from exc

    async def on_invite(d: Delivery, u: BaseUnitOfWork) -> None:
        try:
            await h.on_invite_event(d.data, cast(AccountUnitOfWork, u))
        except ValueError as exc:
            raise Poison(str(exc)) from exc

    async def on_call(d: Delivery, u: BaseUnitOfWork) -> None:
        try:
            await h.on_call_completed(d.data, cast(AccountUnitOfWork, u))
        except ValueError as exc:
            raise Poison(str(exc)) from exc

    svc.subscribe(
        Subscription(
            name="account-user-facts",
            stream=s.STREAM_IDENTITY,
            filter_subjects=USER_EVENTS,
            batch_handler=on_users,
        )
    )
    svc.subscribe(
        Subscription(
            name="account-invite-facts",
            stream=s.STREAM_INVITES,
            filter_subjects=INVITE_EVENTS,
            handler=on_invite,
        )
    )
    svc.subscribe(
        Subscription(
            name="account-call-metering",
            stream=s.STREAM_INGEST_TELEPHONY,
            filter_subjects=[s.INGEST_CALL_COMPLETED],
            handler=on_call,
            message_id=h.call_id_of,
        )
    )
