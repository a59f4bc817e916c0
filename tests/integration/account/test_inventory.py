"""Inventory: purchases with charges, allocation and release for identity."""

from __future__ import annotations

import asyncio
from typing import Any

import phonenumbers
from shared.auth import Perm
from shared.errors import AppError
from shared.messaging.client import call

from tests.support.system import System, uid


async def internal(system: System, subject: str, payload: dict[str, Any]) -> dict[str, Any]:
    return await call(
        system.harness_nc,
        subject,
        payload,
        token=await system.operator_token(),
        internal_key=system.internal_key,
        timeout=10,
    )


async def test_new_account_starts_with_an_empty_inventory(system: System) -> None:
    acc = await system.create_account()
    inv = await system.call(
        "account.v1.inventory.get", {"account_id": acc["id"]}, token=system.token_for(acc["id"])
    )
    assert inv["free"] == {
        "licenses": {"standard": 0, "video_pro_plus": 0},
        "numbers": 0,
        "devices": 0,
    }


async def test_purchase_records_charges_in_the_accounts_currency(system: System) -> None:
    acc = await system.create_account(country="GB")
    token = system.token_for(acc["id"])
    bought = await system.call(
        "account.v1.inventory.purchase",
        {
            "account_id": acc["id"],
            "acknowledge_charges": True,
            "items": [
                {"kind": "license", "user_type": "standard", "quantity": 3},
                {"kind": "number", "quantity": 2},
                {"kind": "device", "model": "Yealink T54W", "quantity": 1},
            ],
        },
        token=token,
    )
    assert bought["currency"] == "GBP"
    assert [(c["item"], c["quantity"], c["unit_price"]) for c in bought["charges"]] == [
        ("license:standard", 3, "25.00"),
        ("number", 2, "4.00"),
        ("device:Yealink T54W", 1, "149.00"),
    ]
    assert bought["total"] == "232.00"
    for n in bought["numbers"]:
        assert phonenumbers.is_valid_number_for_region(phonenumbers.parse(n), "GB")
    inv = await system.call("account.v1.inventory.get", {"account_id": acc["id"]}, token=token)
    assert inv["free"] == {
        "licenses": {"standard": 3, "video_pro_plus": 0},
        "numbers": 2,
        "devices": 1,
    }
    charges = await system.call("account.v1.charges.list", {"account_id": acc["id"]}, token=token)
    assert len(charges["items"]) == 3


async def test_purchase_of_us_numbers_in_an_area_code(system: System) -> None:
    acc = await system.create_account(country="US")
    bought = await system.call(
        "account.v1.inventory.purchase",
        {
            "account_id": acc["id"],
            "acknowledge_charges": True,
            "items": [{"kind": "number", "area_code": "415", "quantity": 3}],
        },
        token=system.token_for(acc["id"]),
    )
    assert len(set(bought["numbers"])) == 3
    assert all(n.startswith("+1415") for n in bought["numbers"])
    assert bought["currency"] == "USD"


async def test_purchase_without_acknowledgement_or_permission_changes_nothing(
    system: System,
) -> None:
    acc = await system.create_account()
    item = [{"kind": "license", "user_type": "standard", "quantity": 1}]
    err = await system.expect_error(
        "validation_failed",
        "account.v1.inventory.purchase",
        {"account_id": acc["id"], "items": item},
        token=system.token_for(acc["id"]),
    )
    assert err.details["errors"][0]["field"] == "acknowledge_charges"
    no_buy = [p for p in Perm.ALL if p != Perm.INVENTORY_PURCHASE]
    await system.expect_error(
        "forbidden",
        "account.v1.inventory.purchase",
        {"account_id": acc["id"], "items": item, "acknowledge_charges": True},
        token=system.token_for(acc["id"], no_buy),
    )
    other = await system.create_account()
    await system.expect_error(
        "forbidden",
        "account.v1.inventory.purchase",
        {"account_id": acc["id"], "items": item, "acknowledge_charges": True},
        token=system.token_for(other["id"]),
    )
    token = system.token_for(acc["id"])
    inv = await system.call("account.v1.inventory.get", {"account_id": acc["id"]}, token=token)
    assert inv["licenses"] == [] and inv["free"]["licenses"]["standard"] == 0
    charges = await system.call("account.v1.charges.list", {"account_id": acc["id"]}, token=token)
    assert charges["items"] == []


async def test_plan_without_video_cannot_buy_video_pro_plus(system: System) -> None:
    acc = await system.create_account(plan="core")
    err = await system.expect_error(
        "validation_failed",
        "account.v1.inventory.purchase",
        {
            "account_id": acc["id"],
            "acknowledge_charges": True,
            "items": [{"kind": "license", "user_type": "video_pro_plus", "quantity": 1}],
        },
        token=system.token_for(acc["id"]),
    )
    assert err.details["errors"][0]["field"] == "items[0].user_type"


async def buy(system: System, acc: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    return await system.call(
        "account.v1.inventory.purchase",
        {"account_id": acc["id"], "acknowledge_charges": True, "items": items},
        token=system.token_for(acc["id"]),
    )


async def test_allocate_takes_free_inventory_is_idempotent_and_release_gives_it_back(
    system: System,
) -> None:
    acc = await system.create_account()
    bought = await buy(
        system,
        acc,
        [
            {"kind": "license", "user_type": "standard", "quantity": 2},
            {"kind": "number", "quantity": 1},
            {"kind": "device", "model": "Poly VVX 450", "quantity": 1},
        ],
    )
    rid = uid("req_")
    req = {
        "request_id": rid,
        "account_id": acc["id"],
        "items": [
            {"kind": "license", "user_type": "standard", "ref": 0},
            {"kind": "license", "user_type": "mobile", "ref": 1},
            {"kind": "number", "ref": 0},
            {"kind": "device", "ref": 0},
        ],
    }
    first = await internal(system, "account.v1.inventory.allocate", req)
    again = await internal(system, "account.v1.inventory.allocate", req)
    assert first == again
    assert first["allocations"][2]["number"] == bought["numbers"][0]
    assert first["allocations"][3]["device_id"] == bought["device_ids"][0]
    token = system.token_for(acc["id"])
    inv = await system.call("account.v1.inventory.get", {"account_id": acc["id"]}, token=token)
    assert inv["free"] == {
        "licenses": {"standard": 1, "video_pro_plus": 0},
        "numbers": 0,
        "devices": 0,
    }

    # running out is a clear error naming the item, and takes nothing
    short = {
        "request_id": uid("req_"),
        "account_id": acc["id"],
        "items": [
            {"kind": "license", "user_type": "standard", "ref": 5},
            {"kind": "license", "user_type": "standard", "ref": 6},
        ],
    }
    try:
        await internal(system, "account.v1.inventory.allocate", short)
        raise AssertionError("expected limit_exceeded")
    except AppError as err:
        assert err.code == "limit_exceeded" and err.details["kind"] == "license"
    inv = await system.call("account.v1.inventory.get", {"account_id": acc["id"]}, token=token)
    assert inv["free"]["licenses"]["standard"] == 1

    rel = await internal(system, "account.v1.inventory.release", {"request_id": rid})
    assert rel == {"request_id": rid, "released": True}
    assert (await internal(system, "account.v1.inventory.release", {"request_id": rid}))["released"]
    inv = await system.call("account.v1.inventory.get", {"account_id": acc["id"]}, token=token)
    assert inv["free"] == {
        "licenses": {"standard": 2, "video_pro_plus": 0},
        "numbers": 1,
        "devices": 1,
    }


async def test_allocate_purchase_needs_acknowledgement_and_permission(system: System) -> None:
    acc = await system.create_account()
    item = {"kind": "license", "user_type": "standard", "purchase": True, "ref": 0}
    base = {"account_id": acc["id"], "items": [item]}
    for extra, code in (
        ({"purchase_allowed": True}, "validation_failed"),
        ({"acknowledge_charges": True}, "forbidden"),
    ):
        try:
            await internal(
                system, "account.v1.inventory.allocate", base | extra | {"request_id": uid("req_")}
            )
            raise AssertionError("expected failure")
        except AppError as err:
            assert err.code == code
    ok = await internal(
        system,
        "account.v1.inventory.allocate",
        base | {"request_id": uid("req_"), "purchase_allowed": True, "acknowledge_charges": True},
    )
    assert ok["allocations"][0]["purchased"] is True
    assert ok["charges"][0]["item"] == "license:standard"
    inv = await system.call(
        "account.v1.inventory.get", {"account_id": acc["id"]}, token=system.token_for(acc["id"])
    )
    assert inv["licenses"] == [{"user_type": "standard", "total": 1, "allocated": 1, "free": 0}]


async def test_allocate_without_internal_key_is_forbidden(system: System) -> None:
    acc = await system.create_account()
    await system.expect_error(
        "forbidden",
        "account.v1.inventory.allocate",
        {"request_id": uid("req_"), "account_id": acc["id"], "items": []},
        token=await system.operator_token(),
        via=system.harness_nc,  # NATS lets only identity publish here; this checks the key
    )


async def test_concurrent_allocations_never_oversell_licenses(system: System) -> None:
    acc = await system.create_account()
    await buy(system, acc, [{"kind": "license", "user_type": "standard", "quantity": 5}])

    async def one() -> bool:
        try:
            await internal(
                system,
                "account.v1.inventory.allocate",
                {
                    "request_id": uid("req_"),
                    "account_id": acc["id"],
                    "items": [{"kind": "license", "user_type": "standard"}],
                },
            )
            return True
        except AppError as err:
            assert err.code == "limit_exceeded"
            return False

    results = await asyncio.gather(*(one() for _ in range(12)))
    assert sum(results) == 5
