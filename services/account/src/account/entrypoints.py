"""Subscribers: contract in -> handler -> contract out. Nothing else lives here."""

from __future__ import annotations

from typing import cast

from shared.contracts import account as c
from shared.contracts.event_data import CallCompleted
from shared.contracts.identity import Session
from shared.contracts.invites import InviteEvent
from shared.db import UnitOfWork as BaseUnitOfWork
from shared.messaging.consumer import Delivery, Poison, Subscription
from shared.messaging.rpc import Route, RpcRouter
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


#: subject, request, reply, summary, use case (called with ``cmd``, ``p``, ``uow``,
#: ``read_uow``, ``reader``, ``identity`` or ``caller_token`` as its parameters name
#: them), options
ROUTES: tuple[Route, ...] = (
    Route(
        s.ACCOUNTS_CREATE, c.CreateAccount, c.Account, "(op) Create an account.", h.create_account
    ),
    Route(s.ACCOUNTS_GET, c.GetAccount, c.Account, "Get an account.", h.get_account),
    Route(s.ACCOUNTS_LIST, c.ListAccounts, c.AccountPage, "(op) Search accounts.", h.list_accounts),
    Route(
        s.ACCOUNTS_UPDATE_SETTINGS,
        c.UpdateSettings,
        c.Account,
        "Change default settings.",
        h.update_settings,
    ),
    Route(s.ACCOUNTS_SET_STATUS, c.SetStatus, c.Account, "(op) Change status.", h.set_status),
    Route(s.PLANS_LIST, c.ListPlans, c.PlanList, "The plan catalogue.", h.list_plans),
    Route(s.SITES_CREATE, c.CreateSite, c.Site, "Create a site (multi-site only).", h.create_site),
    Route(s.SITES_LIST, c.ListSites, c.SitePage, "List sites.", h.list_sites),
    Route(
        s.COST_CENTERS_CREATE,
        c.CreateCostCenter,
        c.CostCenter,
        "Create a cost center.",
        h.create_cost_center,
    ),
    Route(
        s.COST_CENTERS_LIST,
        c.ListCostCenters,
        c.CostCenterPage,
        "List cost centers.",
        h.list_cost_centers,
    ),
    Route(s.SITES_UPDATE, c.UpdateSite, c.Site, "Change a site.", h.update_site),
    Route(s.SITES_REMOVE, c.RemoveSite, c.Site, "Remove a site without users.", h.remove_site),
    Route(
        s.INVENTORY_GET, c.GetInventory, c.Inventory, "Inventory with free counts.", h.get_inventory
    ),
    Route(s.INVENTORY_PURCHASE, c.PurchaseInventory, c.Purchase, "Buy inventory.", h.purchase),
    Route(s.CHARGES_LIST, c.ListCharges, c.ChargePage, "Charges of an account.", h.list_charges),
    Route(
        s.INVENTORY_ALLOCATE,
        c.Allocate,
        c.AllocateReply,
        "(internal) Reserve inventory for users being added.",
        h.allocate,
        internal=True,
    ),
    Route(
        s.INVENTORY_RELEASE,
        c.Release,
        c.ReleaseReply,
        "(internal) Give back an allocation.",
        h.release,
        internal=True,
    ),
    Route(s.PORTALS_CREATE, c.CreatePortal, c.Portal, "Create a portal.", h.create_portal),
    Route(
        s.PORTALS_LINK_CODE, c.IssueLinkCode, c.LinkCode, "One-time link code.", h.issue_link_code
    ),
    Route(s.PORTALS_LINK, c.LinkAccount, c.Portal, "Link an account to a portal.", h.link_account),
    Route(s.PORTALS_UNLINK, c.UnlinkAccount, c.Portal, "Unlink an account.", h.unlink_account),
    Route(
        s.PORTALS_OVERVIEW,
        c.PortalOverviewRequest,
        c.PortalOverview,
        "Linked accounts' status.",
        h.portal_overview,
    ),
    Route(
        s.PORTALS_SWITCH, c.SwitchAccount, Session, "Sign in to a linked account.", h.switch_account
    ),
    Route(s.PORTALS_LIST, c.ListPortals, c.PortalPage, "The caller's portals.", h.list_portals),
)


def register(rpc: RpcRouter, svc: Service) -> None:
    identity = NatsIdentityClient(
        svc.broker, svc.settings.internal_key, svc.settings.request_timeout
    )

    def reader() -> PgAccountReader:
        """Queries of one account: straight off the pool."""
        assert svc.pg is not None
        return PgAccountReader(svc.pg)

    rpc.serve(
        ROUTES,
        uow=lambda: cast(AccountUnitOfWork, svc.uow()),
        read_uow=lambda: cast(AccountUnitOfWork, svc.uow(read_only=True)),  # no transaction
        reader=reader,
        identity=lambda: identity,
        caller_token=caller_token.get,  # the request's own (AccountRpcRouter)
    )
    _consumers(svc)


def _consumers(svc: Service) -> None:
    # --- consumers -----------------------------------------------------------
    async def on_users(ds: list[Delivery], u: BaseUnitOfWork) -> None:
        try:
            events = [(d.user_event(), str(d.data.get("id") or "")) for d in ds]
            await h.on_user_events(events, cast(AccountUnitOfWork, u))
        except ValueError as exc:
            raise Poison(str(exc)) from exc

    async def on_invites(ds: list[Delivery], u: BaseUnitOfWork) -> None:
        try:
            events = [(d.event(InviteEvent), str(d.data.get("time") or "")) for d in ds]
            await h.on_invite_events(events, cast(AccountUnitOfWork, u))
        except ValueError as exc:
            raise Poison(str(exc)) from exc

    async def on_call(d: Delivery, u: BaseUnitOfWork) -> None:
        try:
            await h.on_call_completed(d.event(CallCompleted), cast(AccountUnitOfWork, u))
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
            batch_handler=on_invites,
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
