"""Sites and cost centers of an account."""

from __future__ import annotations

from dataclasses import asdict

from shared.auth import Perm, Principal
from shared.contracts import account as c
from shared.errors import Conflict, NotFound
from shared.ids import new_id
from shared.messaging.outbox import make_event

from account import domain
from account.handlers.common import (
    SOURCE,
    load_account,
)
from account.ports import UnitOfWork
from shared import subjects as s


def to_site(site: domain.Site) -> c.Site:
    return c.Site.model_validate(asdict(site))


async def create_site(cmd: c.CreateSite, uow: UnitOfWork, p: Principal) -> c.Site:
    p.require(Perm.ACCOUNT_MANAGE, cmd.account_id)
    async with uow:
        acc = await load_account(uow, cmd.account_id)
        acc.require_open()
        acc.require_multi_site("Sites")
        site = await uow.sites.add(
            {
                "id": new_id("site"),
                "account_id": acc.id,
                "name": cmd.name,
                "code": cmd.code,
                "time_zone": cmd.time_zone or acc.default_time_zone,
            }
        )
        if site is None:
            raise Conflict(
                "A site with that name already exists in the account.", {"name": cmd.name}
            )
        uow.add_event(make_event(SOURCE, s.SITE_CREATED, site.facts(), key=acc.id))
        await uow.commit()
    return to_site(site)


async def list_sites(cmd: c.ListSites, read_uow: UnitOfWork, p: Principal) -> c.SitePage:
    p.require(Perm.ACCOUNT_READ, cmd.account_id)
    async with read_uow:
        await load_account(read_uow, cmd.account_id)
        found = await read_uow.sites.list(cmd.account_id, after=cmd.cursor, limit=cmd.limit + 1)
    items = [to_site(site) for site in found[: cmd.limit]]
    return c.SitePage(items=items, next_cursor=items[-1].id if len(found) > cmd.limit else None)


async def _site(
    uow: UnitOfWork, account_id: str, site_id: str, *, for_update: bool = False
) -> domain.Site:
    """Another account's site is answered like a missing one."""
    site = await uow.sites.get(account_id, site_id, for_update=for_update)
    if site is None:
        raise NotFound("No such site.", {"site_id": site_id})
    return site


async def update_site(cmd: c.UpdateSite, uow: UnitOfWork, p: Principal) -> c.Site:
    """Change a site's name, code or time zone; what is omitted stays. Users on the
    site without a time zone of their own follow the new one (identity, from the
    ``site.updated`` event)."""
    p.require(Perm.ACCOUNT_MANAGE, cmd.account_id)
    async with uow:
        acc = await load_account(uow, cmd.account_id)
        acc.require_open()
        site = await _site(uow, acc.id, cmd.site_id, for_update=True)
        changes = site.changes(cmd.model_dump(include={"name", "code", "time_zone"}))
        if not changes:
            return to_site(site)
        changed = await uow.sites.update(site.id, changes)
        if changed is None:
            raise Conflict(
                "A site with that name already exists in the account.", {"name": cmd.name}
            )
        data = changed.facts() | {"changed": sorted(changes)}
        uow.add_event(make_event(SOURCE, s.SITE_UPDATED, data, key=acc.id))
        await uow.commit()
    return to_site(changed)


async def remove_site(cmd: c.RemoveSite, uow: UnitOfWork, p: Principal) -> c.Site:
    """A site with users cannot be removed (DOMAIN.md section 6). The account service
    knows users' sites from identity's user events (``account-user-facts``)."""
    p.require(Perm.ACCOUNT_MANAGE, cmd.account_id)
    async with uow:
        acc = await load_account(uow, cmd.account_id)
        acc.require_open()
        site = await _site(uow, acc.id, cmd.site_id, for_update=True)
        domain.require_no_users_on(site, await uow.projections.users_on_site(acc.id, site.id))
        await uow.sites.remove(site.id)
        data = {"account_id": acc.id, "site_id": site.id, "name": site.name}
        uow.add_event(make_event(SOURCE, s.SITE_REMOVED, data, key=acc.id))
        await uow.commit()
    return to_site(site)


async def create_cost_center(
    cmd: c.CreateCostCenter, uow: UnitOfWork, p: Principal
) -> c.CostCenter:
    p.require(Perm.ACCOUNT_MANAGE, cmd.account_id)
    async with uow:
        acc = await load_account(uow, cmd.account_id)
        acc.require_open()
        acc.require_multi_site("Cost centers")
        row = await uow.cost_centers.add(
            {"id": new_id("cc"), "account_id": acc.id, "name": cmd.name}
        )
        if row is None:
            raise Conflict(
                "A cost center with that name already exists in the account.", {"name": cmd.name}
            )
        data = {"account_id": acc.id, "cost_center_id": row["id"], "name": row["name"]}
        uow.add_event(make_event(SOURCE, s.COST_CENTER_CREATED, data, key=acc.id))
        await uow.commit()
    return c.CostCenter.model_validate(row)


async def list_cost_centers(
    cmd: c.ListCostCenters, read_uow: UnitOfWork, p: Principal
) -> c.CostCenterPage:
    p.require(Perm.ACCOUNT_READ, cmd.account_id)
    async with read_uow:
        await load_account(read_uow, cmd.account_id)
        rows = await read_uow.cost_centers.list(
            cmd.account_id, after=cmd.cursor, limit=cmd.limit + 1
        )
    items = [c.CostCenter.model_validate(r) for r in rows[: cmd.limit]]
    return c.CostCenterPage(
        items=items, next_cursor=items[-1].id if len(rows) > cmd.limit else None
    )
