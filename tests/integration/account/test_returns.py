"""Inventory a removed or changed user gives back (identity's ``released`` on
``user.removed``/``user.updated``), once per event; licenses bought while adding users."""

from __future__ import annotations

from typing import Any

from shared.contracts.events import CloudEvent
from shared.errors import AppError

from tests.integration.account.helpers import (
    internal_call,
    publish_event,
    user_facts_marker,
    user_snapshot,
)
from tests.support.system import System, eventually, uid


async def inventory(system: System, account_id: str) -> dict[str, Any]:
    return await system.call(
        "account.v1.inventory.get", {"account_id": account_id}, token=system.token_for(account_id)
    )


async def stocked(system: System, items: list[dict[str, Any]]) -> tuple[dict[str, Any], list[Any]]:
    """An account that bought ``items`` and has them all allocated (users hold them)."""
    acc = await system.create_account()
    await system.call(
        "account.v1.inventory.purchase",
        {"account_id": acc["id"], "acknowledge_charges": True, "items": items},
        token=system.token_for(acc["id"]),
    )
    wanted = [
        {k: v for k, v in it.items() if k != "quantity"}
        for it in items
        for _ in range(it.get("quantity", 1))
    ]
    got = await internal_call(
        system,
        "account.v1.inventory.allocate",
        {"request_id": uid("req_"), "account_id": acc["id"], "items": wanted},
    )
    return acc, got["allocations"]


async def publish_twice(system: System, subject: str, data: dict[str, Any]) -> None:
    """One identity event delivered twice (a redelivery past JetStream's dedupe: the
    same CloudEvent id under another message id): only the consumer's inbox stops it."""
    ev = CloudEvent(source="identity", type=subject.removeprefix("events."), data=data)
    js = system.harness_nc.jetstream()
    for _ in range(2):
        await js.publish(subject, ev.model_dump_json().encode(), headers={"Nats-Msg-Id": uid()})


async def test_a_removed_user_gives_back_license_number_and_device_once(system: System) -> None:
    acc, held = await stocked(
        system,
        [
            {"kind": "license", "user_type": "standard", "quantity": 2},
            {"kind": "number"},
            {"kind": "device", "model": "Yealink T54W"},
        ],
    )
    number, device = held[2]["number"], held[3]["device_id"]
    before = await inventory(system, acc["id"])
    assert before["free"] == {
        "licenses": {"standard": 0, "video_pro_plus": 0},
        "numbers": 0,
        "devices": 0,
    }
    released = {"license": "standard", "number": number, "device_id": device}
    await publish_twice(
        system,
        "events.identity.user.removed",
        {"user_id": uid("usr_"), "account_id": acc["id"], "version": 3, "released": released},
    )
    await eventually(await user_facts_marker(system), timeout=20)
    after = await inventory(system, acc["id"])
    # the second delivery gave nothing more back: one license of the two, not both
    assert after["free"] == {
        "licenses": {"standard": 1, "video_pro_plus": 0},
        "numbers": 1,
        "devices": 1,
    }
    assert after["licenses"] == [{"user_type": "standard", "total": 2, "allocated": 1, "free": 1}]
    assert [n["status"] for n in after["numbers"]] == ["free"]
    assert [(d["id"], d["status"]) for d in after["devices"]] == [(device, "free")]


async def test_a_changed_user_gives_back_its_old_number_and_license(system: System) -> None:
    acc, held = await stocked(
        system,
        [{"kind": "license", "user_type": "standard"}, {"kind": "number", "quantity": 2}],
    )
    old, kept = held[1]["number"], held[2]["number"]
    stranger, stranger_held = await stocked(system, [{"kind": "number"}])
    user_id = uid("usr_")
    snapshot = user_snapshot(
        acc["id"],
        user_id,
        "mobile",  # was standard: its license goes back
        version=2,
        status="Enabled",
        released={"license": "standard", "number": old, "device_id": None},
    )
    await publish_event(system, "events.identity.user.updated", snapshot, "identity")
    # a number of another account named by mistake is left alone
    await publish_event(
        system,
        "events.identity.user.updated",
        snapshot
        | {
            "user_id": uid("usr_"),
            "released": {"license": None, "number": stranger_held[0]["number"], "device_id": None},
        },
        "identity",
    )
    await eventually(await user_facts_marker(system), timeout=20)
    inv = await inventory(system, acc["id"])
    assert inv["free"]["licenses"]["standard"] == 1
    assert {n["number"]: n["status"] for n in inv["numbers"]} == {
        old: "free",
        kept: "allocated",
    }
    assert [n["status"] for n in (await inventory(system, stranger["id"]))["numbers"]] == [
        "allocated"
    ]


async def test_a_license_bought_while_adding_a_user_is_charged_and_returns_to_the_pool(
    system: System,
) -> None:
    acc = await system.create_account(country="GB")
    item = {"kind": "license", "user_type": "standard", "purchase": True, "ref": 0}
    refused = {"request_id": uid("req_"), "account_id": acc["id"], "items": [item]}
    for extra, code in (
        ({}, "forbidden"),
        ({"purchase_allowed": True}, "validation_failed"),
    ):
        try:
            await internal_call(system, "account.v1.inventory.allocate", refused | extra)
            raise AssertionError("expected a refusal")
        except AppError as err:
            assert err.code == code
            refused = refused | {"request_id": uid("req_")}
    got = await internal_call(
        system,
        "account.v1.inventory.allocate",
        {
            "request_id": uid("req_"),
            "account_id": acc["id"],
            "purchase_allowed": True,
            "acknowledge_charges": True,
            "items": [item],
        },
    )
    assert got["allocations"] == [
        {
            "ref": 0,
            "kind": "license",
            "user_type": "standard",
            "number": None,
            "device_id": None,
            "model": None,
            "purchased": True,
        }
    ]
    assert [(c["item"], c["quantity"], c["amount"], c["currency"]) for c in got["charges"]] == [
        ("license:standard", 1, "25.00", "GBP")
    ]
    released = {"license": "standard", "number": None, "device_id": None}
    await publish_event(
        system,
        "events.identity.user.removed",
        {"user_id": uid("usr_"), "account_id": acc["id"], "version": 2, "released": released},
        "identity",
    )
    await eventually(await user_facts_marker(system), timeout=20)
    inv = await inventory(system, acc["id"])
    assert inv["licenses"] == [{"user_type": "standard", "total": 1, "allocated": 0, "free": 1}]
    charges = await system.call(
        "account.v1.charges.list", {"account_id": acc["id"]}, token=system.token_for(acc["id"])
    )
    assert [c["item"] for c in charges["items"]] == ["license:standard"]  # the charge stands
