"""The inventory: buying, reading, charges."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from shared.auth import Perm, Principal
from shared.contracts import account as c
from shared.errors import (
    ValidationFailed,
)
from shared.ids import new_id
from shared.messaging.outbox import make_event

from account import domain
from account.handlers.common import (
    SOURCE,
    charge_row,
    check_license_type,
    check_purchase,
    device_rows,
    issue_numbers,
    load_account,
    to_charge,
)
from account.ports import UnitOfWork
from shared import subjects as s


async def purchase(cmd: c.PurchaseInventory, uow: UnitOfWork, p: Principal) -> c.Purchase:
    p.require_account(cmd.account_id)
    check_purchase(
        p.operator or Perm.INVENTORY_PURCHASE in p.permissions,
        cmd.acknowledge_charges,
    )
    async with uow:
        acc = await load_account(uow, cmd.account_id, for_update=True)
        acc.require_can_buy()
        purchase_id = new_id("pur")
        charges: list[dict[str, Any]] = []
        new_numbers: list[str] = []
        new_devices: list[dict[str, Any]] = []
        items: list[dict[str, Any]] = []
        for i, item in enumerate(cmd.items):
            name = await _buy_item(uow, acc, i, item, new_numbers, new_devices)
            charges.append(charge_row(acc, item.kind, name, item.quantity, purchase_id))
            items.append(item.model_dump(exclude_none=True))
        await uow.inventory.insert_devices(new_devices)
        row = await uow.inventory.add_purchase(
            {
                "id": purchase_id,
                "account_id": acc.id,
                "actor_id": p.user_id,
                "items": items,
            }
        )
        charge_rows = await uow.charges.add_many(charges)
        reply = c.Purchase(
            id=purchase_id,
            account_id=acc.id,
            items=items,
            charges=[to_charge(r) for r in charge_rows],
            numbers=sorted(new_numbers),
            device_ids=[d["id"] for d in new_devices],
            total=domain.money(sum(r["unit_price_minor"] * r["quantity"] for r in charge_rows)),
            currency=domain.currency_for(acc.country),
            created_at=row["created_at"],
        )
        uow.add_event(
            make_event(SOURCE, s.INVENTORY_PURCHASED, reply.model_dump(mode="json"), key=acc.id)
        )
        for ch in reply.charges:
            uow.add_event(
                make_event(SOURCE, s.CHARGE_RECORDED, ch.model_dump(mode="json"), key=acc.id)
            )
        await uow.commit()
    return reply


async def _buy_item(
    uow: UnitOfWork,
    acc: domain.Account,
    i: int,
    item: c.LicenseItem | c.NumberItem | c.DeviceItem,
    new_numbers: list[str],
    new_devices: list[dict[str, Any]],
) -> str:
    """Add one bought item to the inventory; its price-list item name."""
    if isinstance(item, c.LicenseItem):
        check_license_type(acc, item.user_type, f"items[{i}].user_type", i)
        await uow.inventory.add_licenses(acc.id, item.user_type, item.quantity, 0)
        return domain.license_item(item.user_type)
    if isinstance(item, c.NumberItem):
        new_numbers += await issue_numbers(uow, acc, item.quantity, item.area_code, None)
        return "number"
    model = domain.canonical_model(item.model)
    if model is None:
        raise ValidationFailed.single(
            f"items[{i}].model",
            f"Unknown device model; choose one of: {', '.join(domain.DEVICE_MODELS)}.",
            index=i,
        )
    new_devices += device_rows(acc, model, item.quantity, None)
    return domain.device_item(model)


async def get_inventory(cmd: c.GetInventory, read_uow: UnitOfWork, p: Principal) -> c.Inventory:
    p.require(Perm.ACCOUNT_READ, cmd.account_id)
    async with read_uow:
        await load_account(read_uow, cmd.account_id)
        inv = domain.Inventory(
            licenses=await read_uow.inventory.licenses(cmd.account_id),
            numbers=await read_uow.inventory.numbers(cmd.account_id),
            devices=await read_uow.inventory.devices(cmd.account_id),
        )
    return c.Inventory(
        account_id=cmd.account_id,
        licenses=[
            c.LicenseCount(
                user_type=lic.user_type, total=lic.total, allocated=lic.allocated, free=lic.free
            )
            for lic in inv.licenses
        ],
        numbers=[c.NumberView.model_validate(asdict(n)) for n in inv.numbers],
        devices=[c.DeviceView.model_validate(asdict(d)) for d in inv.devices],
        free=c.InventoryFree(
            licenses=inv.free_licenses(),
            numbers=inv.free_numbers(),
            devices=inv.free_devices(),
        ),
    )


async def list_charges(cmd: c.ListCharges, read_uow: UnitOfWork, p: Principal) -> c.ChargePage:
    p.require(Perm.ACCOUNT_READ, cmd.account_id)
    async with read_uow:
        await load_account(read_uow, cmd.account_id)
        rows = await read_uow.charges.list(
            cmd.account_id, kind=cmd.kind, after=cmd.cursor, limit=cmd.limit + 1
        )
    items = [to_charge(r) for r in rows[: cmd.limit]]
    return c.ChargePage(items=items, next_cursor=items[-1].id if len(rows) > cmd.limit else None)
