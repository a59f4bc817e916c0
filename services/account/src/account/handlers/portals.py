"""Multi-account portals: create, link codes, link, unlink, overview, switch."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.auth import Perm, Principal
from shared.contracts import account as c
from shared.contracts.identity import Session
from shared.errors import (
    Conflict,
    Forbidden,
    NotFound,
)
from shared.ids import new_id
from shared.messaging.outbox import make_event
from shared.revocations import revoke_link

from account import domain
from account.handlers.common import (
    SOURCE,
    load_account,
)
from account.ports import IdentityClient, UnitOfWork
from shared import subjects as s


def to_portal(portal: domain.Portal, linked: int) -> c.Portal:
    return c.Portal(
        id=portal.id,
        name=portal.name,
        owner_user_id=portal.owner_user_id,
        owner_account_id=portal.owner_account_id,
        linked_accounts=linked,
        created_at=portal.created_at,
    )


async def _own_portal(uow: UnitOfWork, portal_id: str, p: Principal) -> domain.Portal:
    """Another admin's portal is answered like a missing one: it reveals nothing."""
    p.require(Perm.PORTALS_MANAGE)
    portal = await uow.portals.get(portal_id)
    if portal is None or not portal.visible_to(p.user_id, operator=p.operator):
        raise NotFound("No such portal.", {"portal_id": portal_id})
    return portal


async def create_portal(cmd: c.CreatePortal, uow: UnitOfWork, p: Principal) -> c.Portal:
    p.require(Perm.PORTALS_MANAGE)
    async with uow:
        portal = await uow.portals.add(
            {
                "id": new_id("ptl"),
                "name": cmd.name,
                "owner_user_id": p.user_id,
                "owner_account_id": p.account_id,
            }
        )
        data = {
            "portal_id": portal.id,
            "name": portal.name,
            "owner_user_id": portal.owner_user_id,
            "owner_account_id": portal.owner_account_id,
        }
        uow.add_event(make_event(SOURCE, s.PORTAL_CREATED, data, key=portal.id))
        await uow.commit()
    return to_portal(portal, 0)


async def list_portals(cmd: c.ListPortals, read_uow: UnitOfWork, p: Principal) -> c.PortalPage:
    """The caller's own portals: those it created and so administers. Nobody else's
    portal appears here, an operator's list included (it lists the operator's own)."""
    p.require(Perm.PORTALS_MANAGE)
    async with read_uow:
        found = await read_uow.portals.owned_by(p.user_id, after=cmd.cursor, limit=cmd.limit + 1)
    items = [to_portal(portal, linked) for portal, linked in found[: cmd.limit]]
    return c.PortalPage(items=items, next_cursor=items[-1].id if len(found) > cmd.limit else None)


async def issue_link_code(cmd: c.IssueLinkCode, uow: UnitOfWork, p: Principal) -> c.LinkCode:
    """Issued inside the account by its own admin: holding one proves admin rights."""
    p.require(Perm.PORTALS_MANAGE, cmd.account_id)
    code = domain.new_link_code()
    expires = datetime.now(UTC) + domain.LINK_CODE_TTL
    async with uow:
        acc = await load_account(uow, cmd.account_id)
        acc.require_open()
        await uow.link_codes.add(
            {
                "code_hash": domain.hash_link_code(code),
                "account_id": acc.id,
                "issued_by": p.user_id,
                "expires_at": expires,
            }
        )
        await uow.commit()
    return c.LinkCode(account_id=cmd.account_id, link_code=code, expires_at=expires)


async def link_account(cmd: c.LinkAccount, uow: UnitOfWork, p: Principal) -> c.Portal:
    async with uow:
        portal = await _own_portal(uow, cmd.portal_id, p)
        code_hash = domain.hash_link_code(cmd.link_code)
        if not await uow.link_codes.consume(code_hash, cmd.account_id, portal.id):
            known = await uow.link_codes.get(code_hash)
            if known is None or known["account_id"] != cmd.account_id:
                raise Forbidden(
                    "The link code is not valid for that account.", {"reason": "invalid"}
                )
            if known["used_at"] is not None:
                raise Conflict("The link code was already used.", {"reason": "used"})
            raise Conflict("The link code has expired.", {"reason": "expired"})
        acc = await load_account(uow, cmd.account_id)
        if await uow.portals.link(portal.id, acc.id):
            data = {"portal_id": portal.id, "account_id": acc.id, "country": acc.country}
            uow.add_event(make_event(SOURCE, s.PORTAL_LINKED, data, key=portal.id))
        linked = await uow.portals.count_links(portal.id)
        await uow.commit()
    return to_portal(portal, linked)


async def unlink_account(cmd: c.UnlinkAccount, uow: UnitOfWork, p: Principal) -> c.Portal:
    """The portal's owner (or an operator) unlinks any of its accounts; an account's own
    admins (``account.manage`` in that account) unlink it from any portal. Sessions
    switched into the account through that portal end."""
    not_linked = NotFound(
        "That account is not linked to the portal.", {"account_id": cmd.account_id}
    )
    account_admin = (
        not p.operator and p.account_id == cmd.account_id and Perm.ACCOUNT_MANAGE in p.permissions
    )
    async with uow:
        if account_admin:
            found = await uow.portals.get(cmd.portal_id)
            if found is None:
                raise not_linked
            portal = found
        else:
            portal = await _own_portal(uow, cmd.portal_id, p)
        if not await uow.portals.unlink(portal.id, cmd.account_id):
            raise not_linked
        data = {"portal_id": portal.id, "account_id": cmd.account_id}
        uow.add_event(make_event(SOURCE, s.PORTAL_UNLINKED, data, key=portal.id))
        uow.add_event(revoke_link(SOURCE, portal.id, cmd.account_id))
        linked = await uow.portals.count_links(portal.id)
        await uow.commit()
    return to_portal(portal, linked)


async def portal_overview(
    cmd: c.PortalOverviewRequest, read_uow: UnitOfWork, p: Principal
) -> c.PortalOverview:
    async with read_uow:
        portal = await _own_portal(read_uow, cmd.portal_id, p)
        rows = await read_uow.portals.overview(portal.id)
    return c.PortalOverview(
        portal_id=portal.id,
        name=portal.name,
        accounts=[
            c.PortalAccount(
                **r,
                service_status=domain.service_status(r["status"], r["users"], r["pending_invites"]),
            )
            for r in rows
        ],
    )


async def switch_account(
    cmd: c.SwitchAccount,
    uow: UnitOfWork,
    p: Principal,
    identity: IdentityClient,
    caller_token: str,
) -> Session:
    if p.portal_id is not None:
        raise Forbidden(
            "A session opened through a portal cannot switch again; "
            "switch with your own account's session.",
            {"reason": "switched_session"},
        )
    async with uow:
        portal = await _own_portal(uow, cmd.portal_id, p)
        if not await uow.portals.is_linked(portal.id, cmd.account_id):
            raise NotFound(
                "That account is not linked to the portal.", {"account_id": cmd.account_id}
            )
        acc = await load_account(uow, cmd.account_id)
    acc.require_open()
    reply = await identity.mint(caller_token, acc.id, p.user_id, portal.id)
    return Session.model_validate(reply)
