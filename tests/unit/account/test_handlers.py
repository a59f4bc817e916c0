"""Account use cases on a fake unit of work: fast, no servers. The integration tests
(tests/integration/account) run the same use cases on PostgreSQL and NATS."""

from __future__ import annotations

from collections import Counter
from types import TracebackType
from typing import Any, Self

import pytest
from account import domain
from account import handlers as h
from shared.auth import Perm, Principal
from shared.contracts import account as c
from shared.contracts.event_data import UserRemoved, UserSnapshot
from shared.errors import Conflict, Forbidden, LimitExceeded, ValidationFailed
from shared.messaging.consumer import Delivery, Poison

from shared import subjects as s
from tests.support.events import user_snapshot


class FakeAccounts:
    def __init__(self, acc: domain.Account) -> None:
        self.acc = acc

    async def get(self, account_id: str, *, for_update: bool = False) -> domain.Account | None:
        return self.acc if account_id == self.acc.id else None


class FakeInventory:
    def __init__(self) -> None:
        self.total: Counter[str] = Counter()
        self.allocated: Counter[str] = Counter()
        self.numbers: dict[str, str] = {}  # number -> status
        self.devices: dict[str, str] = {}

    async def take_licenses(self, account_id: str, user_type: str, count: int) -> bool:
        if self.total[user_type] - self.allocated[user_type] < count:
            return False
        self.allocated[user_type] += count
        return True

    async def add_licenses(
        self, account_id: str, user_type: str, quantity: int, allocate: int
    ) -> None:
        self.total[user_type] += quantity
        self.allocated[user_type] += allocate

    async def insert_devices(self, rows: list[dict[str, Any]]) -> None:
        self.devices |= {r["id"]: r["status"] for r in rows}

    async def return_license(self, account_id: str, user_type: str) -> bool:
        if self.allocated[user_type] <= 0:
            return False
        self.allocated[user_type] -= 1
        return True

    async def return_number(self, account_id: str, number: str) -> bool:
        if self.numbers.get(number) != "allocated":
            return False
        self.numbers[number] = "free"
        return True

    async def return_device(self, account_id: str, device_id: str) -> bool:
        if self.devices.get(device_id) != "allocated":
            return False
        self.devices[device_id] = "free"
        return True


class FakeCharges:
    async def add_many(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return list(rows)


class FakeAllocations:
    def __init__(self) -> None:
        self.rows: dict[str, domain.Allocation] = {}

    async def claim(self, request_id: str, account_id: str, status: str = "pending") -> bool:
        if request_id in self.rows:
            return False
        self.rows[request_id] = domain.Allocation(request_id, account_id, status)
        return True

    async def get(self, request_id: str, *, for_update: bool = False) -> domain.Allocation | None:
        return self.rows.get(request_id)

    async def finish(self, request_id: str, taken: dict[str, int], reply: dict[str, Any]) -> None:
        held = self.rows[request_id]
        held.status, held.licenses, held.reply = "allocated", taken, reply


class FakeProjections:
    async def upsert_users(self, rows: list[dict[str, Any]]) -> set[str]:
        return set()


class FakeUow:
    def __init__(self, acc: domain.Account) -> None:
        self.accounts = FakeAccounts(acc)
        self.inventory = FakeInventory()
        self.charges = FakeCharges()
        self.allocations = FakeAllocations()
        self.projections = FakeProjections()
        self.events: list[Any] = []
        self.committed = 0

    async def __aenter__(self) -> Self:
        self.pending: list[Any] = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.pending = []

    def add_event(self, event: Any) -> None:
        self.pending.append(event)

    async def commit(self) -> None:
        self.events += self.pending
        self.committed += 1


ACC = domain.Account(
    id="acc_1",
    name="Acme",
    country="US",
    plan="core",
    status="Active",
    multi_site=False,
    extension_length=4,
    settings=domain.default_settings("US"),
)
IDENTITY = Principal(user_id="svc", account_id="acc_1", permissions=frozenset({Perm.USERS_MANAGE}))


def allocate_cmd(*items: dict[str, Any], **extra: Any) -> c.Allocate:
    return c.Allocate.model_validate(
        {"request_id": "req_1", "account_id": "acc_1", "items": list(items)} | extra
    )


async def test_allocate_takes_free_licenses_once_per_request_id() -> None:
    uow = FakeUow(ACC)
    uow.inventory.total["standard"] = 2
    cmd = allocate_cmd(
        {"kind": "license", "user_type": "standard"}, {"kind": "license", "user_type": "mobile"}
    )
    first = await h.allocate(cmd, uow, IDENTITY)
    again = await h.allocate(cmd, uow, IDENTITY)
    assert again == first
    assert [(a.kind, a.user_type, a.purchased) for a in first.allocations] == [
        ("license", "standard", False),
        ("license", "mobile", False),
    ]
    assert uow.inventory.allocated == Counter({"standard": 1})
    assert uow.allocations.rows["req_1"].licenses == {"standard": 1}
    assert [e.subject for e in uow.events] == [s.INVENTORY_ALLOCATED]


async def test_allocate_refuses_running_out_naming_the_item() -> None:
    uow = FakeUow(ACC)
    cmd = allocate_cmd({"kind": "license", "user_type": "standard", "ref": "e3"})
    with pytest.raises(LimitExceeded) as err:
        await h.allocate(cmd, uow, IDENTITY)
    assert err.value.details["ref"] == "e3" and err.value.details["kind"] == "license"
    assert uow.events == []


async def test_allocate_buys_a_license_only_with_permission_and_acknowledgement() -> None:
    item = {"kind": "license", "user_type": "standard", "purchase": True}
    with pytest.raises(Forbidden):
        await h.allocate(allocate_cmd(item, acknowledge_charges=True), FakeUow(ACC), IDENTITY)
    with pytest.raises(ValidationFailed):
        await h.allocate(allocate_cmd(item, purchase_allowed=True), FakeUow(ACC), IDENTITY)
    uow = FakeUow(ACC)
    reply = await h.allocate(
        allocate_cmd(item, purchase_allowed=True, acknowledge_charges=True),
        uow,
        IDENTITY,
    )
    assert reply.allocations[0].purchased
    assert [(ch.item, ch.amount, ch.currency) for ch in reply.charges] == [
        ("license:standard", "30.00", "USD")
    ]
    assert (uow.inventory.total["standard"], uow.inventory.allocated["standard"]) == (1, 1)


async def test_allocate_refuses_a_suspended_accounts_purchase() -> None:
    from dataclasses import replace

    item = {"kind": "license", "user_type": "standard", "purchase": True}
    uow = FakeUow(replace(ACC, status="Suspended"))
    with pytest.raises(Conflict):
        await h.allocate(
            allocate_cmd(item, purchase_allowed=True, acknowledge_charges=True),
            uow,
            IDENTITY,
        )


async def test_released_inventory_goes_back_and_is_announced() -> None:
    uow = FakeUow(ACC)
    uow.inventory.total["standard"] = uow.inventory.allocated["standard"] = 1
    uow.inventory.numbers = {"+14155550100": "allocated", "+14155550101": "free"}
    released = {"license": "standard", "number": "+14155550100", "device_id": "dev_unknown"}
    envelope = {
        "id": "ev_1",
        "data": {"user_id": "usr_1", "account_id": "acc_1", "version": 2, "released": released},
    }
    async with uow:
        ev = Delivery(s.USER_REMOVED, envelope, {}, "m1", 1).event(UserRemoved)
        await h.on_user_events([(ev, envelope["id"])], uow)
        await uow.commit()
    assert uow.inventory.allocated["standard"] == 0
    assert uow.inventory.numbers["+14155550100"] == "free"
    [event] = uow.events
    assert event.subject == s.INVENTORY_RETURNED
    assert event.event.data == {
        "account_id": "acc_1",
        "user_id": "usr_1",
        "event_id": "ev_1",
        "license": "standard",
        "number": "+14155550100",
        "device_id": None,
    }


async def test_a_bad_released_field_is_a_bad_event() -> None:
    """Checked once, by the consumers' parse path: the event is dead-lettered."""
    snapshot = user_snapshot()
    good = Delivery(s.USER_UPDATED, {"id": "ev_2", "data": snapshot}, {}, "m1", 1)
    assert good.event(UserSnapshot).user_type == "standard"
    bad = Delivery(
        s.USER_UPDATED, {"id": "ev_2", "data": snapshot | {"released": "all"}}, {}, "m1", 1
    )
    with pytest.raises(Poison, match="released"):
        bad.event(UserSnapshot)
