"""identity and account together: licenses, numbers and phones reserved from the
account's inventory when users are added; sites created in account usable in identity."""

from __future__ import annotations

from typing import Any

from shared.auth import Perm

from tests.support.system import System, email, eventually


def entry(user_type: str = "standard", **extra: Any) -> dict[str, Any]:
    return {
        "first_name": "Lin",
        "last_name": "Ventory",
        "email": email("inv"),
        "user_type": user_type,
        "setup": {"option": "activate_later"},
    } | extra


async def inventory(system: System, account_id: str, token: str) -> dict[str, Any]:
    return await system.call("account.v1.inventory.get", {"account_id": account_id}, token=token)


async def test_standard_users_need_licenses_and_take_them_from_inventory(system: System) -> None:
    op = await system.operator_token()
    acc = await system.create_account()
    first = entry()
    err = await system.expect_error(
        "limit_exceeded",
        "identity.v1.users.add",
        {"account_id": acc["id"], "users": [first]},
        token=op,
    )
    assert "license" in str(err.details).lower() or "license" in err.message.lower()
    # nothing was created: the email is still free
    free = await system.call("identity.v1.emails.check", {"email": first["email"]}, token=op)
    assert free["available"] is True

    await system.call(
        "account.v1.inventory.purchase",
        {
            "account_id": acc["id"],
            "items": [{"kind": "license", "user_type": "standard", "quantity": 2}],
            "acknowledge_charges": True,
        },
        token=op,
    )
    added = await system.call(
        "identity.v1.users.add", {"account_id": acc["id"], "users": [first, entry()]}, token=op
    )
    assert len(added["users"]) == 2
    inv = await inventory(system, acc["id"], op)
    assert inv["free"]["licenses"].get("standard", 0) == 0
    await system.expect_error(
        "limit_exceeded",
        "identity.v1.users.add",
        {"account_id": acc["id"], "users": [entry()]},
        token=op,
    )
    # mobile users take no license
    await system.call(
        "identity.v1.users.add", {"account_id": acc["id"], "users": [entry("mobile")]}, token=op
    )


async def test_buying_a_number_while_adding_needs_acknowledgement(system: System) -> None:
    op = await system.operator_token()
    acc = await system.create_account()
    await system.call(
        "account.v1.inventory.purchase",
        {
            "account_id": acc["id"],
            "items": [{"kind": "license", "user_type": "standard"}],
            "acknowledge_charges": True,
        },
        token=op,
    )
    payload = {
        "account_id": acc["id"],
        "users": [entry("standard", phone_number={"source": "purchase"})],
    }
    await system.expect_error("validation_failed", "identity.v1.users.add", payload, token=op)
    added = await system.call(
        "identity.v1.users.add", payload | {"acknowledge_charges": True}, token=op
    )
    user = added["users"][0]
    number = (user.get("phone_number") or {}).get("number")
    assert number and number.startswith("+1"), user
    charges = await system.call("account.v1.charges.list", {"account_id": acc["id"]}, token=op)
    kinds = sorted(c["kind"] for c in charges["items"])
    assert "license" in kinds and "number" in kinds


async def test_admin_without_purchase_permission_cannot_buy_while_adding(system: System) -> None:
    op = await system.operator_token()
    acc = await system.create_account()
    admin = system.token_for(acc["id"], [p for p in Perm.ALL if p != Perm.INVENTORY_PURCHASE])
    await system.call(
        "account.v1.inventory.purchase",
        {
            "account_id": acc["id"],
            "items": [{"kind": "license", "user_type": "standard"}],
            "acknowledge_charges": True,
        },
        token=op,
    )
    err = await system.expect_error(
        "forbidden",
        "identity.v1.users.add",
        {
            "account_id": acc["id"],
            "acknowledge_charges": True,
            "users": [entry("standard", phone_number={"source": "purchase"})],
        },
        token=admin,
    )
    assert err.code == "forbidden"
    # the license reserved for the failed request was given back
    inv = await inventory(system, acc["id"], op)
    assert inv["free"]["licenses"].get("standard") == 1


async def test_a_site_created_in_account_can_be_given_to_a_user(system: System) -> None:
    op = await system.operator_token()
    acc = await system.create_account(multi_site=True)
    site = await system.call(
        "account.v1.sites.create",
        {"account_id": acc["id"], "name": "Denver", "code": "DEN"},
        token=op,
    )

    async def add() -> dict[str, Any] | None:
        try:
            return await system.call(
                "identity.v1.users.add",
                {"account_id": acc["id"], "users": [entry("mobile", site_id=site["id"])]},
                token=op,
            )
        except Exception:
            return None

    added = await eventually(add)
    assert added["users"][0]["site_id"] == site["id"]
