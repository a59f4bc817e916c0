"""Use cases of the account service: ``async def (cmd, uow, principal) -> reply``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from shared.auth import Perm, Principal
from shared.contracts import account as c
from shared.contracts.identity import Session
from shared.errors import (
    Conflict,
    Forbidden,
    LimitExceeded,
    NotFound,
    ValidationFailed,
)
from shared.ids import new_id
from shared.messaging.outbox import make_event
from shared.revocations import revoke_account, revoke_link

from account import domain
from account.ports import AccountReader, IdentityClient, UnitOfWork
from shared import subjects as s

SOURCE = "account"
UowFactory = Callable[[], UnitOfWork]


def to_account(row: dict[str, Any]) -> c.Account:
    return c.Account(
        id=row["id"],
        name=row["name"],
        country=row["country"],
        plan=row["plan"],
        status=row["status"],
        status_reason=row.get("status_reason"),
        multi_site=row["multi_site"],
        extension_length=row["extension_length"],
        settings=c.AccountSettingsView.model_validate(row["settings"]),
        created_at=row.get("created_at"),
    )


def account_facts(row: dict[str, Any]) -> dict[str, Any]:
    st = row["settings"]
    return c.AccountFacts(
        account_id=row["id"],
        name=row["name"],
        country=row["country"],
        plan=row["plan"],
        status=row["status"],
        multi_site=row["multi_site"],
        extension_length=row["extension_length"],
        require_unique_email=st["require_unique_email"],
        default_time_zone=st["default_time_zone"],
        default_language=st["default_language"],
        regional_format=st["regional_format"],
        user_types=domain.user_types_for(row["plan"]),
        status_reason=row.get("status_reason"),
        version=row.get("version") or 1,
    ).model_dump()


async def create_account(cmd: c.CreateAccount, uow: UnitOfWork, principal: Principal) -> c.Account:
    principal.require_operator()
    settings = domain.default_settings(cmd.country)
    if cmd.settings is not None:
        settings = domain.merge_settings(
            settings, cmd.settings.model_dump(mode="json", exclude_none=True)
        )
    async with uow:
        row = await uow.accounts.add(
            {
                "id": new_id("acc"),
                "name": cmd.name,
                "country": cmd.country,
                "plan": cmd.plan,
                "status": "Active",
                "multi_site": cmd.multi_site,
                "extension_length": cmd.extension_length,
                "settings": settings,
            }
        )
        uow.add_event(make_event(SOURCE, s.ACCOUNT_CREATED, account_facts(row), key=row["id"]))
        await uow.commit()
    return to_account(row)


async def get_account(cmd: c.GetAccount, reader: AccountReader, principal: Principal) -> c.Account:
    principal.require(Perm.ACCOUNT_READ, cmd.account_id)
    row = await reader.account(cmd.account_id)
    if row is None:
        raise NotFound("No such account.", {"account_id": cmd.account_id})
    return to_account(row)


async def _account(uow: UnitOfWork, account_id: str, *, for_update: bool = False) -> dict[str, Any]:
    row = await uow.accounts.get(account_id, for_update=for_update)
    if row is None:
        raise NotFound("No such account.", {"account_id": account_id})
    return row


async def list_accounts(
    cmd: c.ListAccounts, uow: UnitOfWork, principal: Principal
) -> c.AccountPage:
    principal.require_operator()
    async with uow:
        rows = await uow.accounts.list(
            query=cmd.query, status=cmd.status, after=cmd.cursor, limit=cmd.limit + 1
        )
    items = [to_account(r) for r in rows[: cmd.limit]]
    nxt = items[-1].id if len(rows) > cmd.limit else None
    return c.AccountPage(items=items, next_cursor=nxt)


async def update_settings(
    cmd: c.UpdateSettings, uow: UnitOfWork, principal: Principal
) -> c.Account:
    principal.require(Perm.ACCOUNT_MANAGE, cmd.account_id)
    patch = cmd.settings.model_dump(mode="json", exclude_none=True)
    async with uow:
        row = await _account(uow, cmd.account_id, for_update=True)
        domain.require_open(row)
        merged = domain.merge_settings(row["settings"], patch)
        if merged == row["settings"]:
            return to_account(row)
        row = await uow.accounts.update(cmd.account_id, {"settings": merged})
        data = account_facts(row) | {"settings": merged, "changed": sorted(patch)}
        uow.add_event(make_event(SOURCE, s.ACCOUNT_SETTINGS_UPDATED, data, key=row["id"]))
        await uow.commit()
    return to_account(row)


async def set_status(cmd: c.SetStatus, uow: UnitOfWork, principal: Principal) -> c.Account:
    principal.require_operator()
    async with uow:
        row = await _account(uow, cmd.account_id, for_update=True)
        domain.check_status_change(row["status"], cmd.status, cmd.reason)
        reason = cmd.reason.strip() if cmd.reason and cmd.status != "Active" else None
        if row["status"] == cmd.status and row["status_reason"] == reason:
            return to_account(row)
        previous = row["status"]
        row = await uow.accounts.update(
            cmd.account_id, {"status": cmd.status, "status_reason": reason}
        )
        data = account_facts(row) | {"previous_status": previous}
        uow.add_event(make_event(SOURCE, s.ACCOUNT_STATUS_CHANGED, data, key=row["id"]))
        if cmd.status != previous:
            # sessions issued before end; none works while Suspended or Closed
            # (docs/security.md, "Sessions and authorization")
            uow.add_event(revoke_account(SOURCE, row["id"], blocked=cmd.status != "Active"))
        await uow.commit()
    return to_account(row)


# --- plans -------------------------------------------------------------------


async def list_plans(cmd: c.ListPlans, principal: Principal) -> c.PlanList:
    return c.PlanList(
        items=[
            c.PlanView(plan=plan, user_types=domain.user_types_for(plan), **info)
            for plan, info in domain.PLAN_CATALOGUE.items()
        ]
    )


# --- sites and cost centers --------------------------------------------------


async def create_site(cmd: c.CreateSite, uow: UnitOfWork, principal: Principal) -> c.Site:
    principal.require(Perm.ACCOUNT_MANAGE, cmd.account_id)
    async with uow:
        acc = await _account(uow, cmd.account_id)
        domain.require_open(acc)
        if not acc["multi_site"]:
            raise Conflict(
                "Sites exist only on multi-site accounts; this account is single-site.",
                {"account_id": acc["id"], "multi_site": False},
            )
        row = await uow.sites.add(
            {
                "id": new_id("site"),
                "account_id": acc["id"],
                "name": cmd.name,
                "code": cmd.code,
                "time_zone": cmd.time_zone or acc["settings"]["default_time_zone"],
            }
        )
        if row is None:
            raise Conflict(
                "A site with that name already exists in the account.", {"name": cmd.name}
            )
        data = {k: row[k] for k in ("account_id", "name", "code", "time_zone")} | {
            "site_id": row["id"]
        }
        uow.add_event(make_event(SOURCE, s.SITE_CREATED, data, key=acc["id"]))
        await uow.commit()
    return c.Site.model_validate(row)


async def list_sites(cmd: c.ListSites, uow: UnitOfWork, principal: Principal) -> c.SitePage:
    principal.require(Perm.ACCOUNT_READ, cmd.account_id)
    async with uow:
        await _account(uow, cmd.account_id)
        rows = await uow.sites.list(cmd.account_id, after=cmd.cursor, limit=cmd.limit + 1)
    items = [c.Site.model_validate(r) for r in rows[: cmd.limit]]
    return c.SitePage(items=items, next_cursor=items[-1].id if len(rows) > cmd.limit else None)


async def create_cost_center(
    cmd: c.CreateCostCenter, uow: UnitOfWork, principal: Principal
) -> c.CostCenter:
    principal.require(Perm.ACCOUNT_MANAGE, cmd.account_id)
    async with uow:
        acc = await _account(uow, cmd.account_id)
        domain.require_open(acc)
        row = await uow.cost_centers.add(
            {"id": new_id("cc"), "account_id": acc["id"], "name": cmd.name}
        )
        if row is None:
            raise Conflict(
                "A cost center with that name already exists in the account.", {"name": cmd.name}
            )
        data = {"account_id": acc["id"], "cost_center_id": row["id"], "name": row["name"]}
        uow.add_event(make_event(SOURCE, s.COST_CENTER_CREATED, data, key=acc["id"]))
        await uow.commit()
    return c.CostCenter.model_validate(row)


async def list_cost_centers(
    cmd: c.ListCostCenters, uow: UnitOfWork, principal: Principal
) -> c.CostCenterPage:
    principal.require(Perm.ACCOUNT_READ, cmd.account_id)
    async with uow:
        await _account(uow, cmd.account_id)
        rows = await uow.cost_centers.list(cmd.account_id, after=cmd.cursor, limit=cmd.limit + 1)
    items = [c.CostCenter.model_validate(r) for r in rows[: cmd.limit]]
    return c.CostCenterPage(
        items=items, next_cursor=items[-1].id if len(rows) > cmd.limit else None
    )


# --- inventory -----------------------------------------------------------------


def to_charge(row: dict[str, Any]) -> c.Charge:
    return c.Charge(
        id=row["id"],
        account_id=row["account_id"],
        purchase_id=row.get("purchase_id"),
        kind=row["kind"],
        item=row["item"],
        quantity=row["quantity"],
        unit_price=domain.money(row["unit_price_minor"]),
        amount=domain.money(row["unit_price_minor"] * row["quantity"]),
        currency=row["currency"],
        user_id=row.get("user_id"),
        cycle=row.get("cycle"),
        created_at=row.get("created_at"),
    )


def _charge_row(
    acc: dict[str, Any], kind: str, item: str, quantity: int, purchase_id: str | None
) -> dict[str, Any]:
    unit, currency = domain.price(acc["country"], item)
    return {
        "id": new_id("chg"),
        "account_id": acc["id"],
        "purchase_id": purchase_id,
        "kind": kind,
        "item": item,
        "quantity": quantity,
        "unit_price_minor": unit,
        "currency": currency,
    }


async def _new_numbers(
    uow: UnitOfWork,
    acc: dict[str, Any],
    count: int,
    area_code: str | None,
    allocation_id: str | None,
) -> list[str]:
    """Issue ``count`` fresh numbers for the account; the primary key keeps them unique."""
    got: list[str] = []
    for _ in range(5):
        candidates = domain.number_candidates(acc["country"], count - len(got), area_code)
        rows = [
            {
                "number": n,
                "account_id": acc["id"],
                "status": "allocated" if allocation_id else "free",
                "allocation_id": allocation_id,
            }
            for n in candidates
        ]
        got += await uow.inventory.insert_numbers(rows)
        if len(got) >= count:
            return got
    raise Conflict("Could not issue enough unique numbers; try again.", {"area_code": area_code})


def _new_devices(
    acc: dict[str, Any], model: str, count: int, allocation_id: str | None
) -> list[dict[str, Any]]:
    return [
        {
            "id": new_id("dev"),
            "account_id": acc["id"],
            "model": model,
            "status": "allocated" if allocation_id else "free",
            "allocation_id": allocation_id,
        }
        for _ in range(count)
    ]


def _check_purchase(principal_may_buy: bool, acknowledged: bool) -> None:
    if not principal_may_buy:
        raise Forbidden(
            f"Buying needs the '{Perm.INVENTORY_PURCHASE}' permission.",
            {"permission": Perm.INVENTORY_PURCHASE},
        )
    if not acknowledged:
        raise ValidationFailed.single(
            "acknowledge_charges",
            "Buying inventory records charges: set acknowledge_charges to true.",
        )


def _check_license_type(acc: dict[str, Any], user_type: str, field: str, index: int | None) -> None:
    if user_type not in domain.LICENSED_USER_TYPES:
        raise ValidationFailed.single(field, f"'{user_type}' users take no license.", index=index)
    if not domain.plan_allows(acc["plan"], user_type):
        raise ValidationFailed.single(
            field, f"The {acc['plan']} plan does not allow '{user_type}' users.", index=index
        )


async def purchase(cmd: c.PurchaseInventory, uow: UnitOfWork, principal: Principal) -> c.Purchase:
    principal.require_account(cmd.account_id)
    _check_purchase(
        principal.operator or Perm.INVENTORY_PURCHASE in principal.permissions,
        cmd.acknowledge_charges,
    )
    async with uow:
        acc = await _account(uow, cmd.account_id, for_update=True)
        domain.require_can_buy(acc)
        purchase_id = new_id("pur")
        charges: list[dict[str, Any]] = []
        new_numbers: list[str] = []
        new_devices: list[dict[str, Any]] = []
        items: list[dict[str, Any]] = []
        for i, item in enumerate(cmd.items):
            if isinstance(item, c.LicenseItem):
                _check_license_type(acc, item.user_type, f"items[{i}].user_type", i)
                await uow.inventory.add_licenses(acc["id"], item.user_type, item.quantity, 0)
                name = domain.license_item(item.user_type)
            elif isinstance(item, c.NumberItem):
                new_numbers += await _new_numbers(uow, acc, item.quantity, item.area_code, None)
                name = "number"
            else:
                model = domain.canonical_model(item.model)
                if model is None:
                    raise ValidationFailed.single(
                        f"items[{i}].model",
                        f"Unknown device model; choose one of: {', '.join(domain.DEVICE_MODELS)}.",
                        index=i,
                    )
                new_devices += _new_devices(acc, model, item.quantity, None)
                name = domain.device_item(model)
            charges.append(_charge_row(acc, item.kind, name, item.quantity, purchase_id))
            items.append(item.model_dump(exclude_none=True))
        await uow.inventory.insert_devices(new_devices)
        row = await uow.inventory.add_purchase(
            {
                "id": purchase_id,
                "account_id": acc["id"],
                "actor_id": principal.user_id,
                "items": items,
            }
        )
        charge_rows = await uow.charges.add_many(charges)
        reply = c.Purchase(
            id=purchase_id,
            account_id=acc["id"],
            items=items,
            charges=[to_charge(r) for r in charge_rows],
            numbers=sorted(new_numbers),
            device_ids=[d["id"] for d in new_devices],
            total=domain.money(sum(r["unit_price_minor"] * r["quantity"] for r in charge_rows)),
            currency=domain.currency_for(acc["country"]),
            created_at=row["created_at"],
        )
        uow.add_event(
            make_event(SOURCE, s.INVENTORY_PURCHASED, reply.model_dump(mode="json"), key=acc["id"])
        )
        for ch in reply.charges:
            uow.add_event(
                make_event(SOURCE, s.CHARGE_RECORDED, ch.model_dump(mode="json"), key=acc["id"])
            )
        await uow.commit()
    return reply


async def get_inventory(cmd: c.GetInventory, uow: UnitOfWork, principal: Principal) -> c.Inventory:
    principal.require(Perm.ACCOUNT_READ, cmd.account_id)
    async with uow:
        await _account(uow, cmd.account_id)
        lic = await uow.inventory.licenses(cmd.account_id)
        nums = await uow.inventory.numbers(cmd.account_id)
        devs = await uow.inventory.devices(cmd.account_id)
    licenses = [
        c.LicenseCount(
            user_type=r["user_type"],
            total=r["total"],
            allocated=r["allocated"],
            free=r["total"] - r["allocated"],
        )
        for r in lic
    ]
    return c.Inventory(
        account_id=cmd.account_id,
        licenses=licenses,
        numbers=[c.NumberView.model_validate(r) for r in nums],
        devices=[c.DeviceView.model_validate(r) for r in devs],
        free=c.InventoryFree(
            licenses={t: 0 for t in domain.LICENSED_USER_TYPES}
            | {x.user_type: x.free for x in licenses},
            numbers=sum(1 for r in nums if r["status"] == "free"),
            devices=sum(1 for r in devs if r["status"] == "free"),
        ),
    )


async def list_charges(cmd: c.ListCharges, uow: UnitOfWork, principal: Principal) -> c.ChargePage:
    principal.require(Perm.ACCOUNT_READ, cmd.account_id)
    async with uow:
        await _account(uow, cmd.account_id)
        rows = await uow.charges.list(
            cmd.account_id, kind=cmd.kind, after=cmd.cursor, limit=cmd.limit + 1
        )
    items = [to_charge(r) for r in rows[: cmd.limit]]
    return c.ChargePage(items=items, next_cursor=items[-1].id if len(rows) > cmd.limit else None)


def _exhausted(ref: Any, kind: str, message: str, **extra: Any) -> LimitExceeded:
    return LimitExceeded(message, {"ref": ref, "kind": kind, **extra})


async def allocate(cmd: c.Allocate, uow: UnitOfWork, principal: Principal) -> c.AllocateReply:
    """Reserve inventory for users identity is adding, in one transaction.

    Idempotent by ``request_id``: the allocation row is inserted first, so a twin
    request waits on it and then returns the stored reply."""
    principal.require(Perm.USERS_MANAGE, cmd.account_id)
    rid = cmd.request_id
    buying = [it for it in cmd.items if it.purchase]
    async with uow:
        if not await uow.allocations.claim(rid, cmd.account_id):
            prior = await uow.allocations.get(rid)
            if prior is None or prior["account_id"] != cmd.account_id:
                raise Conflict("That request id belongs to another request.", {"request_id": rid})
            if prior["status"] == "released" and prior["reply"] is None:
                raise Conflict("That allocation was already released.", {"request_id": rid})
            return c.AllocateReply.model_validate(prior["reply"])
        acc = await _account(uow, cmd.account_id)
        domain.require_open(acc)
        if buying:
            _check_purchase(cmd.purchase_allowed, cmd.acknowledge_charges)
            domain.require_can_buy(acc)
        out: list[c.Allocation] = []
        charges: list[dict[str, Any]] = []
        taken: Counter[str] = Counter()
        bought: Counter[str] = Counter()
        new_devices: list[dict[str, Any]] = []
        for i, it in enumerate(cmd.items):
            ref = it.ref if it.ref is not None else i
            if isinstance(it, c.AllocLicense):
                if not domain.plan_allows(acc["plan"], it.user_type):
                    raise ValidationFailed.single(
                        f"items[{i}].user_type",
                        f"The {acc['plan']} plan does not allow '{it.user_type}' users.",
                        index=i,
                    )
                if it.user_type not in domain.LICENSED_USER_TYPES:
                    out.append(c.Allocation(ref=ref, kind="license", user_type=it.user_type))
                    continue
                if it.purchase:
                    bought[it.user_type] += 1
                else:
                    taken[it.user_type] += 1
                out.append(
                    c.Allocation(
                        ref=ref, kind="license", user_type=it.user_type, purchased=it.purchase
                    )
                )
            elif isinstance(it, c.AllocNumber):
                if it.purchase:
                    [num] = await _new_numbers(uow, acc, 1, it.area_code, rid)
                    charges.append(_charge_row(acc, "number", "number", 1, None))
                elif it.number:
                    if not await uow.inventory.take_number(acc["id"], it.number, rid):
                        owner = await uow.inventory.number_owner(it.number)
                        if owner is None or owner["account_id"] != acc["id"]:
                            raise NotFound(
                                "That number is not in the account's inventory.",
                                {"ref": ref, "kind": "number", "number": it.number},
                            )
                        raise Conflict(
                            "That number is already assigned.",
                            {"ref": ref, "kind": "number", "number": it.number},
                        )
                    num = it.number
                else:
                    prefix = domain.e164_prefix(acc["country"], it.area_code)
                    got = await uow.inventory.take_free_numbers(acc["id"], 1, prefix, rid)
                    if not got:
                        raise _exhausted(ref, "number", "No free phone number in the inventory.")
                    num = got[0]
                out.append(c.Allocation(ref=ref, kind="number", number=num, purchased=it.purchase))
            else:
                if it.purchase:
                    model = domain.canonical_model(it.model or "")
                    if model is None:
                        raise ValidationFailed.single(
                            f"items[{i}].model",
                            "A known device model is needed to buy a phone.",
                            index=i,
                        )
                    dev = _new_devices(acc, model, 1, rid)[0]
                    new_devices.append(dev)
                    charges.append(_charge_row(acc, "device", domain.device_item(model), 1, None))
                elif it.device_id:
                    found = await uow.inventory.take_device(acc["id"], it.device_id, rid)
                    if found is None:
                        d = await uow.inventory.device(it.device_id)
                        if d is None or d["account_id"] != acc["id"]:
                            raise NotFound(
                                "That device is not in the account's inventory.",
                                {"ref": ref, "kind": "device", "device_id": it.device_id},
                            )
                        raise Conflict(
                            "That device is already assigned.",
                            {"ref": ref, "kind": "device", "device_id": it.device_id},
                        )
                    dev = found
                else:
                    got_d = await uow.inventory.take_free_devices(acc["id"], it.model, 1, rid)
                    if not got_d:
                        raise _exhausted(
                            ref, "device", "No free desk phone in the inventory.", model=it.model
                        )
                    dev = got_d[0]
                out.append(
                    c.Allocation(
                        ref=ref,
                        kind="device",
                        device_id=dev["id"],
                        model=dev["model"],
                        purchased=it.purchase,
                    )
                )
        for user_type, n in taken.items():
            if not await uow.inventory.take_licenses(acc["id"], user_type, n):
                short = next(
                    a.ref
                    for a in out
                    if a.kind == "license" and a.user_type == user_type and not a.purchased
                )
                raise _exhausted(
                    short,
                    "license",
                    f"No free '{user_type}' license left in the inventory.",
                    user_type=user_type,
                    needed=n,
                )
        for user_type, n in bought.items():
            await uow.inventory.add_licenses(acc["id"], user_type, n, n)
            charges.append(_charge_row(acc, "license", domain.license_item(user_type), n, None))
        await uow.inventory.insert_devices(new_devices)
        charge_rows = await uow.charges.add_many(charges)
        reply = c.AllocateReply(
            request_id=rid, allocations=out, charges=[to_charge(r) for r in charge_rows]
        )
        licenses_held = dict(taken + bought)
        await uow.allocations.finish(rid, licenses_held, reply.model_dump(mode="json"))
        uow.add_event(
            make_event(
                SOURCE,
                s.INVENTORY_ALLOCATED,
                {"account_id": acc["id"], **reply.model_dump(mode="json")},
                key=acc["id"],
            )
        )
        for ch in reply.charges:
            uow.add_event(
                make_event(SOURCE, s.CHARGE_RECORDED, ch.model_dump(mode="json"), key=acc["id"])
            )
        await uow.commit()
    return reply


async def release(cmd: c.Release, uow: UnitOfWork, principal: Principal) -> c.ReleaseReply:
    """Give back what an allocation took. Bought items stay in the inventory (their
    charges stand). A release that arrives before its allocation leaves a tombstone,
    so the late allocation is refused instead of leaking inventory."""
    principal.require(Perm.USERS_MANAGE)
    async with uow:
        row = await uow.allocations.get(cmd.request_id, for_update=True)
        if row is None:
            await uow.allocations.claim(cmd.request_id, "", status="released")
            await uow.commit()
            return c.ReleaseReply(request_id=cmd.request_id, released=False)
        principal.require(Perm.USERS_MANAGE, row["account_id"])
        if row["status"] == "released":
            return c.ReleaseReply(request_id=cmd.request_id, released=row["reply"] is not None)
        await uow.inventory.give_back_licenses(row["account_id"], dict(row["licenses"]))
        nums, devs = await uow.inventory.free_allocated(cmd.request_id)
        await uow.allocations.mark_released(cmd.request_id)
        uow.add_event(
            make_event(
                SOURCE,
                s.INVENTORY_RELEASED,
                {
                    "account_id": row["account_id"],
                    "request_id": cmd.request_id,
                    "licenses": row["licenses"],
                    "numbers": nums,
                    "device_ids": devs,
                },
                key=row["account_id"],
            )
        )
        await uow.commit()
    return c.ReleaseReply(request_id=cmd.request_id, released=True)


# --- portals -------------------------------------------------------------------


def to_portal(row: dict[str, Any], linked: int) -> c.Portal:
    return c.Portal(
        id=row["id"],
        name=row["name"],
        owner_user_id=row["owner_user_id"],
        owner_account_id=row["owner_account_id"],
        linked_accounts=linked,
        created_at=row["created_at"],
    )


async def _own_portal(uow: UnitOfWork, portal_id: str, principal: Principal) -> dict[str, Any]:
    """Another admin's portal is answered like a missing one: it reveals nothing."""
    principal.require(Perm.PORTALS_MANAGE)
    row = await uow.portals.get(portal_id)
    if row is None or (row["owner_user_id"] != principal.user_id and not principal.operator):
        raise NotFound("No such portal.", {"portal_id": portal_id})
    return row


async def create_portal(cmd: c.CreatePortal, uow: UnitOfWork, principal: Principal) -> c.Portal:
    principal.require(Perm.PORTALS_MANAGE)
    async with uow:
        row = await uow.portals.add(
            {
                "id": new_id("ptl"),
                "name": cmd.name,
                "owner_user_id": principal.user_id,
                "owner_account_id": principal.account_id,
            }
        )
        data = {
            "portal_id": row["id"],
            "name": row["name"],
            "owner_user_id": row["owner_user_id"],
            "owner_account_id": row["owner_account_id"],
        }
        uow.add_event(make_event(SOURCE, s.PORTAL_CREATED, data, key=row["id"]))
        await uow.commit()
    return to_portal(row, 0)


async def issue_link_code(
    cmd: c.IssueLinkCode, uow: UnitOfWork, principal: Principal
) -> c.LinkCode:
    """Issued inside the account by its own admin: holding one proves admin rights."""
    principal.require(Perm.PORTALS_MANAGE, cmd.account_id)
    code = domain.new_link_code()
    expires = datetime.now(UTC) + domain.LINK_CODE_TTL
    async with uow:
        acc = await _account(uow, cmd.account_id)
        domain.require_open(acc)
        await uow.link_codes.add(
            {
                "code_hash": domain.hash_link_code(code),
                "account_id": acc["id"],
                "issued_by": principal.user_id,
                "expires_at": expires,
            }
        )
        await uow.commit()
    return c.LinkCode(account_id=cmd.account_id, link_code=code, expires_at=expires)


async def link_account(cmd: c.LinkAccount, uow: UnitOfWork, principal: Principal) -> c.Portal:
    async with uow:
        portal = await _own_portal(uow, cmd.portal_id, principal)
        code_hash = domain.hash_link_code(cmd.link_code)
        if not await uow.link_codes.consume(code_hash, cmd.account_id, portal["id"]):
            known = await uow.link_codes.get(code_hash)
            if known is None or known["account_id"] != cmd.account_id:
                raise Forbidden(
                    "The link code is not valid for that account.", {"reason": "invalid"}
                )
            if known["used_at"] is not None:
                raise Conflict("The link code was already used.", {"reason": "used"})
            raise Conflict("The link code has expired.", {"reason": "expired"})
        acc = await _account(uow, cmd.account_id)
        if await uow.portals.link(portal["id"], acc["id"]):
            data = {"portal_id": portal["id"], "account_id": acc["id"], "country": acc["country"]}
            uow.add_event(make_event(SOURCE, s.PORTAL_LINKED, data, key=portal["id"]))
        linked = await uow.portals.count_links(portal["id"])
        await uow.commit()
    return to_portal(portal, linked)


async def unlink_account(cmd: c.UnlinkAccount, uow: UnitOfWork, principal: Principal) -> c.Portal:
    """The portal's owner (or an operator) unlinks any of its accounts; an account's own
    admins (``account.manage`` in that account) unlink it from any portal. Sessions
    switched into the account through that portal end."""
    not_linked = NotFound(
        "That account is not linked to the portal.", {"account_id": cmd.account_id}
    )
    account_admin = (
        not principal.operator
        and principal.account_id == cmd.account_id
        and Perm.ACCOUNT_MANAGE in principal.permissions
    )
    async with uow:
        if account_admin:
            found = await uow.portals.get(cmd.portal_id)
            if found is None:
                raise not_linked
            portal = found
        else:
            portal = await _own_portal(uow, cmd.portal_id, principal)
        if not await uow.portals.unlink(portal["id"], cmd.account_id):
            raise not_linked
        data = {"portal_id": portal["id"], "account_id": cmd.account_id}
        uow.add_event(make_event(SOURCE, s.PORTAL_UNLINKED, data, key=portal["id"]))
        uow.add_event(revoke_link(SOURCE, portal["id"], cmd.account_id))
        linked = await uow.portals.count_links(portal["id"])
        await uow.commit()
    return to_portal(portal, linked)


async def portal_overview(
    cmd: c.PortalOverviewRequest, uow: UnitOfWork, principal: Principal
) -> c.PortalOverview:
    async with uow:
        portal = await _own_portal(uow, cmd.portal_id, principal)
        rows = await uow.portals.overview(portal["id"])
    return c.PortalOverview(
        portal_id=portal["id"],
        name=portal["name"],
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
    principal: Principal,
    identity: IdentityClient,
    caller_token: str,
) -> Session:
    if principal.portal_id is not None:
        raise Forbidden(
            "A session opened through a portal cannot switch again; "
            "switch with your own account's session.",
            {"reason": "switched_session"},
        )
    async with uow:
        portal = await _own_portal(uow, cmd.portal_id, principal)
        if not await uow.portals.is_linked(portal["id"], cmd.account_id):
            raise NotFound(
                "That account is not linked to the portal.", {"account_id": cmd.account_id}
            )
        acc = await _account(uow, cmd.account_id)
    domain.require_open(acc)
    reply = await identity.mint(caller_token, acc["id"], principal.user_id, portal["id"])
    return Session.model_validate(reply)


# --- projections of other services' events ------------------------------------


def _event_data(envelope: dict[str, Any]) -> dict[str, Any]:
    data = envelope.get("data")
    return data if isinstance(data, dict) else envelope


async def _charge_overage(uow: UnitOfWork, acc: dict[str, Any], user_id: str, cycle: str) -> None:
    row = _charge_row(acc, "free_user_overage", "free_user_overage", 1, None) | {
        "user_id": user_id,
        "cycle": cycle,
    }
    created = await uow.charges.add_overage(row)
    if created is not None:
        charge = to_charge(created).model_dump(mode="json")
        uow.add_event(make_event(SOURCE, s.CHARGE_RECORDED, charge, key=acc["id"]))


def _user_fact(subject: str, envelope: dict[str, Any]) -> dict[str, Any]:
    data = _event_data(envelope)
    user_id, account_id = data.get("user_id"), data.get("account_id")
    if not isinstance(user_id, str) or not isinstance(account_id, str):
        raise ValueError("user event without user_id/account_id")
    removed = subject == s.USER_REMOVED
    return {
        "user_id": user_id,
        "account_id": account_id,
        "version": int(data.get("version") or 0),
        "removed": removed,
        "user_type": None if removed else data.get("user_type"),
        "status": None if removed else data.get("status"),
    }


async def on_user_events(events: list[tuple[str, dict[str, Any]]], uow: UnitOfWork) -> None:
    """Keep each user's type and status (for counts and free-user metering), a whole
    batch of identity's events in one statement; the highest version of a user wins.
    A user who turns out to be free after their calls were counted is charged then."""
    latest: dict[str, dict[str, Any]] = {}
    for subject, envelope in events:
        row = _user_fact(subject, envelope)
        known = latest.get(row["user_id"])
        if known is None or row["version"] >= known["version"]:
            latest[row["user_id"]] = row
    changed = await uow.projections.upsert_users(list(latest.values()))
    for user_id in changed:
        row = latest[user_id]
        if row["removed"] or row["user_type"] != "free":
            continue
        over = await uow.projections.cycles_over(
            row["account_id"], user_id, domain.FREE_CALLS_PER_CYCLE
        )
        if over:
            acc = await uow.accounts.get(row["account_id"])
            if acc is not None:
                for r in over:
                    await _charge_overage(uow, acc, user_id, r["cycle"])


async def on_invite_event(envelope: dict[str, Any], uow: UnitOfWork) -> None:
    data = _event_data(envelope)
    invite_id, account_id, status = (
        data.get("invite_id"),
        data.get("account_id"),
        data.get("status"),
    )
    if not all(isinstance(x, str) for x in (invite_id, account_id, status)):
        raise ValueError("invite event without invite_id/account_id/status")
    raw_time = envelope.get("time")
    when = datetime.fromisoformat(raw_time) if isinstance(raw_time, str) else datetime.now(UTC)
    await uow.projections.upsert_invite(str(invite_id), str(account_id), str(status), when)


async def on_call_completed(envelope: dict[str, Any], uow: UnitOfWork) -> None:
    """Count a call against its user for the cycle (calendar month in the account's
    time zone). Calls of users not yet known are counted anyway; the overage is
    decided when the user's type is known (here, or when identity's event arrives)."""
    data = _event_data(envelope)
    try:
        account_id, user_id = str(data["account_id"]), str(data["user_id"])
        started = datetime.fromisoformat(str(data["started_at"]).replace("Z", "+00:00"))
    except (KeyError, ValueError) as exc:
        raise ValueError(f"call event is not valid: {exc}") from exc
    acc = await uow.accounts.get(account_id)
    if acc is None:
        raise ValueError(f"call event for unknown account {account_id}")
    cycle = domain.billing_cycle(started, acc["settings"]["default_time_zone"])
    calls = await uow.projections.count_call(account_id, user_id, cycle)
    if calls <= domain.FREE_CALLS_PER_CYCLE:
        return
    user = await uow.projections.user(user_id)
    if user is not None and not user["removed"] and domain.overage_due(calls, user["user_type"]):
        await _charge_overage(uow, acc, user_id, cycle)


def call_id_of(subject: str, data: dict[str, Any], headers: dict[str, str]) -> str:
    """Calls are deduplicated by ``call_id`` (the inbox key), whatever the envelope."""
    cid = _event_data(data).get("call_id")
    return str(cid) if cid else ""
