"""Allocation for identity: reserve inventory for users being added, give it back."""

from __future__ import annotations

from typing import Any

from shared.auth import Perm, Principal
from shared.contracts import account as c
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.messaging.outbox import make_event

from account import domain
from account.handlers.common import (
    SOURCE,
    charge_row,
    check_purchase,
    device_rows,
    exhausted,
    issue_numbers,
    load_account,
    to_charge,
)
from account.ports import UnitOfWork
from shared import subjects as s


async def allocate(cmd: c.Allocate, uow: UnitOfWork, p: Principal) -> c.AllocateReply:
    """Reserve inventory for users identity is adding, in one transaction.

    Idempotent by ``request_id``: the allocation row is inserted first, so a twin
    request waits on it and then returns the stored reply."""
    p.require(Perm.USERS_MANAGE, cmd.account_id)
    async with uow:
        prior = await _claim(uow, cmd)
        if prior is not None:
            return prior
        acc = await load_account(uow, cmd.account_id)
        acc.require_open()
        if any(it.purchase for it in cmd.items):
            check_purchase(cmd.purchase_allowed, cmd.acknowledge_charges)
            acc.require_can_buy()
        work = PendingAllocation(uow, acc, cmd.request_id)
        for i, it in enumerate(cmd.items):
            await work.take(i, it)
        reply = await work.finish()
        uow.add_event(
            make_event(
                SOURCE,
                s.INVENTORY_ALLOCATED,
                {"account_id": acc.id, **reply.model_dump(mode="json")},
                key=acc.id,
            )
        )
        for ch in reply.charges:
            uow.add_event(
                make_event(SOURCE, s.CHARGE_RECORDED, ch.model_dump(mode="json"), key=acc.id)
            )
        await uow.commit()
    return reply


async def _claim(uow: UnitOfWork, cmd: c.Allocate) -> c.AllocateReply | None:
    """None when this request is new (its row is now ours); else the stored reply."""
    rid = cmd.request_id
    if await uow.allocations.claim(rid, cmd.account_id):
        return None
    prior = await uow.allocations.get(rid)
    if prior is None:
        raise Conflict("That request id belongs to another request.", {"request_id": rid})
    return c.AllocateReply.model_validate(prior.replay_for(cmd.account_id))


class PendingAllocation:
    """One allocation in progress: numbers and devices are taken (or issued) item by
    item; licenses are counted, then taken per type at the end (all or nothing)."""

    def __init__(self, uow: UnitOfWork, acc: domain.Account, request_id: str) -> None:
        self.uow, self.acc, self.rid = uow, acc, request_id
        self.licenses = domain.LicenseTally(acc.plan)
        self.out: list[c.Allocation] = []
        self.charges: list[dict[str, Any]] = []
        self.new_devices: list[dict[str, Any]] = []

    async def take(self, index: int, it: c.AllocLicense | c.AllocNumber | c.AllocDevice) -> None:
        ref = it.ref if it.ref is not None else index
        if isinstance(it, c.AllocLicense):
            counted = self.licenses.add(it.user_type, it.purchase, index)
            purchased = it.purchase if counted else False
            self.out.append(
                c.Allocation(ref=ref, kind="license", user_type=it.user_type, purchased=purchased)
            )
        elif isinstance(it, c.AllocNumber):
            num = await self._number(ref, it)
            self.out.append(c.Allocation(ref=ref, kind="number", number=num, purchased=it.purchase))
        else:
            dev = await self._device(index, ref, it)
            self.out.append(
                c.Allocation(
                    ref=ref,
                    kind="device",
                    device_id=dev["id"],
                    model=dev["model"],
                    purchased=it.purchase,
                )
            )

    async def _number(self, ref: c.Ref, it: c.AllocNumber) -> str:
        acc, inv = self.acc, self.uow.inventory
        if it.purchase:
            [num] = await issue_numbers(self.uow, acc, 1, it.area_code, self.rid)
            self.charges.append(charge_row(acc, "number", "number", 1, None))
            return num
        if it.number:
            if await inv.take_number(acc.id, it.number, self.rid):
                return it.number
            owner = await inv.number_owner(it.number)
            details = {"ref": ref, "kind": "number", "number": it.number}
            if owner is None or owner["account_id"] != acc.id:
                raise NotFound("That number is not in the account's inventory.", details)
            raise Conflict("That number is already assigned.", details)
        prefix = domain.e164_prefix(acc.country, it.area_code)
        got = await inv.take_free_numbers(acc.id, 1, prefix, self.rid)
        if not got:
            raise exhausted(ref, "number", "No free phone number in the inventory.")
        return got[0]

    async def _device(self, index: int, ref: c.Ref, it: c.AllocDevice) -> dict[str, Any]:
        acc, inv = self.acc, self.uow.inventory
        if it.purchase:
            model = domain.canonical_model(it.model or "")
            if model is None:
                raise ValidationFailed.single(
                    f"items[{index}].model",
                    "A known device model is needed to buy a phone.",
                    index=index,
                )
            dev = device_rows(acc, model, 1, self.rid)[0]
            self.new_devices.append(dev)
            self.charges.append(charge_row(acc, "device", domain.device_item(model), 1, None))
            return dev
        if it.device_id:
            found = await inv.take_device(acc.id, it.device_id, self.rid)
            if found is not None:
                return found
            d = await inv.device(it.device_id)
            details = {"ref": ref, "kind": "device", "device_id": it.device_id}
            if d is None or d["account_id"] != acc.id:
                raise NotFound("That device is not in the account's inventory.", details)
            raise Conflict("That device is already assigned.", details)
        got = await inv.take_free_devices(acc.id, it.model, 1, self.rid)
        if not got:
            raise exhausted(ref, "device", "No free desk phone in the inventory.", model=it.model)
        return got[0]

    async def _take_licenses(self) -> None:
        """Free licenses per type, all or nothing; then the bought ones, charged."""
        acc = self.acc
        for user_type, n in self.licenses.taken.items():
            if not await self.uow.inventory.take_licenses(acc.id, user_type, n):
                short = next(
                    a.ref
                    for a in self.out
                    if a.kind == "license" and a.user_type == user_type and not a.purchased
                )
                raise exhausted(
                    short,
                    "license",
                    f"No free '{user_type}' license left in the inventory.",
                    user_type=user_type,
                    needed=n,
                )
        for user_type, n in self.licenses.bought.items():
            await self.uow.inventory.add_licenses(acc.id, user_type, n, n)
            self.charges.append(charge_row(acc, "license", domain.license_item(user_type), n, None))

    async def finish(self) -> c.AllocateReply:
        await self._take_licenses()
        await self.uow.inventory.insert_devices(self.new_devices)
        charge_rows = await self.uow.charges.add_many(self.charges)
        reply = c.AllocateReply(
            request_id=self.rid, allocations=self.out, charges=[to_charge(r) for r in charge_rows]
        )
        await self.uow.allocations.finish(
            self.rid, self.licenses.held(), reply.model_dump(mode="json")
        )
        return reply


async def release(cmd: c.Release, uow: UnitOfWork, p: Principal) -> c.ReleaseReply:
    """Give back what an allocation took. Bought items stay in the inventory (their
    charges stand). A release that arrives before its allocation leaves a tombstone,
    so the late allocation is refused instead of leaking inventory."""
    p.require(Perm.USERS_MANAGE)
    async with uow:
        held = await uow.allocations.get(cmd.request_id, for_update=True)
        if held is None:
            await uow.allocations.claim(cmd.request_id, "", status="released")
            await uow.commit()
            return c.ReleaseReply(request_id=cmd.request_id, released=False)
        p.require(Perm.USERS_MANAGE, held.account_id)
        if held.released:
            return c.ReleaseReply(request_id=cmd.request_id, released=held.was_allocated)
        await uow.inventory.give_back_licenses(held.account_id, dict(held.licenses))
        nums, devs = await uow.inventory.free_allocated(cmd.request_id)
        await uow.allocations.mark_released(cmd.request_id)
        uow.add_event(
            make_event(
                SOURCE,
                s.INVENTORY_RELEASED,
                {
                    "account_id": held.account_id,
                    "request_id": cmd.request_id,
                    "licenses": held.licenses,
                    "numbers": nums,
                    "device_ids": devs,
                },
                key=held.account_id,
            )
        )
        await uow.commit()
    return c.ReleaseReply(request_id=cmd.request_id, released=True)
