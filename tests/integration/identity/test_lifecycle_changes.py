"""issue 12, identity's part of DOMAIN.md 6 "Lifecycle": users.update changes email,
type, extension number, phone and number (inventory swapped, ``released`` named on
``user.updated``/``user.removed``); extensions.remove; roles.set_default; a license
bought with users.add; calling_blocked."""

from __future__ import annotations

from typing import Any

import phonenumbers
from shared.auth import Perm

from tests.integration.identity.conftest import creds, entry, identity_events, ready_account
from tests.support.system import System, email, eventually

ADD = "identity.v1.users.add"
UPDATE = "identity.v1.users.update"
GET = "identity.v1.users.get"
NOTHING = {"license": None, "number": None, "device_id": None}
USERS_ADMIN = [
    Perm.ACCOUNT_READ,
    Perm.USERS_READ,
    Perm.USERS_MANAGE,
    Perm.ROLES_MANAGE,
    Perm.INVITES_MANAGE,
    Perm.SELF,
]


async def _add(system: System, acc: dict[str, Any], token: str, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"account_id": acc["id"], "users": [entry(email(), **over)]}
    return dict((await system.call(ADD, body, token=token))["users"][0])


async def _buy(system: System, acc: dict[str, Any], token: str, *items: dict[str, Any]) -> Any:
    return await system.call(
        "account.v1.inventory.purchase",
        {"account_id": acc["id"], "acknowledge_charges": True, "items": list(items)},
        token=token,
    )


async def _update(
    system: System, acc: dict[str, Any], user: dict[str, Any], token: str, **fields: Any
) -> dict[str, Any]:
    return await system.call(
        UPDATE, {"account_id": acc["id"], "user_id": user["id"], "fields": fields}, token=token
    )


async def _event(
    system: System, acc: dict[str, Any], subject: str, user_id: str, version: int
) -> Any:
    async def found() -> dict[str, Any] | None:
        for e in await identity_events(system, acc["id"], subject):
            if e["data"]["user_id"] == user_id and e["data"]["version"] == version:
                return dict(e["data"])
        return None

    return await eventually(found, timeout=20)


async def _free_licenses(system: System, acc: dict[str, Any], token: str) -> dict[str, int]:
    inv = await system.call("account.v1.inventory.get", {"account_id": acc["id"]}, token=token)
    return dict(inv["free"]["licenses"])


# --- email ---------------------------------------------------------------------------


async def test_update_changes_email_but_not_to_one_taken_in_another_account(
    system: System,
) -> None:
    one = await ready_account(system)
    two = await ready_account(system)
    t1, t2 = system.token_for(one["id"]), system.token_for(two["id"])
    a = await _add(system, one, t1)
    b = await _add(system, two, t2)
    err = await system.expect_error(
        "validation_failed",
        UPDATE,
        {"account_id": two["id"], "user_id": b["id"], "fields": {"email": a["email"].upper()}},
        token=t2,
    )
    assert err.details["errors"][0]["field"] == "fields.email"
    assert (await system.call(GET, {"account_id": two["id"], "user_id": b["id"]}, token=t2))[
        "version"
    ] == 1
    new_email = email()
    changed = await _update(system, two, b, t2, email=new_email)
    assert changed["email"] == new_email and changed["version"] == 2
    ev = await _event(system, two, "events.identity.user.updated", b["id"], 2)
    assert ev["email"] == new_email and ev["released"] == NOTHING
    # the old email is free again, the new one taken
    op = await system.operator_token()
    free = await system.call("identity.v1.emails.check", {"email": b["email"]}, token=op)
    taken = await system.call("identity.v1.emails.check", {"email": new_email}, token=op)
    assert free["available"] is True and taken["available"] is False


async def test_update_refuses_an_email_of_the_same_account(system: System) -> None:
    acc = await ready_account(system)
    token = system.token_for(acc["id"])
    a, b = await _add(system, acc, token), await _add(system, acc, token)
    await system.expect_error(
        "validation_failed",
        UPDATE,
        {"account_id": acc["id"], "user_id": b["id"], "fields": {"email": a["email"]}},
        token=token,
    )


# --- type, license, phone, number ------------------------------------------------------


async def test_type_change_without_a_free_license_fails_and_says_how_to_buy(
    system: System,
) -> None:
    acc = await ready_account(system)
    token = system.token_for(acc["id"])
    user = await _add(system, acc, token)  # mobile: no license
    body = {"account_id": acc["id"], "user_id": user["id"], "fields": {"user_type": "standard"}}
    err = await system.expect_error("limit_exceeded", UPDATE, body, token=token)
    assert '"license": "purchase"' in err.message and "acknowledge_charges" in err.message
    body["fields"] |= {"license": "purchase"}
    err = await system.expect_error("validation_failed", UPDATE, body, token=token)
    assert err.details["errors"][0]["field"] == "acknowledge_charges"
    no_buyer = system.token_for(acc["id"], permissions=USERS_ADMIN)
    await system.expect_error(
        "forbidden", UPDATE, body | {"acknowledge_charges": True}, token=no_buyer
    )
    got = await system.call(GET, {"account_id": acc["id"], "user_id": user["id"]}, token=token)
    assert (got["user_type"], got["version"]) == ("mobile", 1)
    bought = await system.call(UPDATE, body | {"acknowledge_charges": True}, token=token)
    assert bought["user_type"] == "standard" and bought["calling_blocked"] is True
    assert (await _free_licenses(system, acc, token))["standard"] == 0


async def test_type_change_swaps_the_license_and_drops_phone_and_number(
    system: System,
) -> None:
    acc = await ready_account(system)
    token = system.token_for(acc["id"])
    got = await _buy(
        system,
        acc,
        token,
        {"kind": "license", "user_type": "standard", "quantity": 1},
        {"kind": "license", "user_type": "video_pro_plus", "quantity": 1},
        {"kind": "number", "quantity": 1},
    )
    [number] = got["numbers"]
    user = await _add(
        system,
        acc,
        token,
        user_type="standard",
        phone_number={"source": "inventory", "number": number},
    )
    assert user["phone_number"]["number"] == number
    assert (await _free_licenses(system, acc, token))["standard"] == 0
    err = await system.expect_error(
        "validation_failed",
        UPDATE,
        {
            "account_id": acc["id"],
            "user_id": user["id"],
            "fields": {"user_type": "video_pro_plus", "phone_number": {"source": "purchase"}},
        },
        token=token,
    )
    assert err.details["errors"][0]["field"] == "fields.phone_number"
    changed = await _update(system, acc, user, token, user_type="video_pro_plus")
    assert changed["user_type"] == "video_pro_plus"
    assert changed["phone_number"] is None and changed["phone"] is None
    assert changed["calling_blocked"] is False
    assert (await _free_licenses(system, acc, token))["video_pro_plus"] == 0
    ev = await _event(system, acc, "events.identity.user.updated", user["id"], 2)
    assert ev["released"] == {"license": "standard", "number": number, "device_id": None}
    assert ev["user_type"] == "video_pro_plus" and ev["calling_blocked"] is False


async def test_number_change_takes_a_local_format_and_gives_the_old_one_back(
    system: System,
) -> None:
    acc = await ready_account(system)  # a US account
    token = system.token_for(acc["id"])
    got = await _buy(
        system,
        acc,
        token,
        {"kind": "license", "user_type": "standard", "quantity": 1},
        {"kind": "number", "quantity": 2},
    )
    first, second = got["numbers"]
    user = await _add(
        system,
        acc,
        token,
        user_type="standard",
        phone_number={"source": "inventory", "number": first},
    )
    local = phonenumbers.format_number(
        phonenumbers.parse(second), phonenumbers.PhoneNumberFormat.NATIONAL
    )
    bad = {"source": "inventory", "number": "(617) 555-01"}
    err = await system.expect_error(
        "validation_failed",
        UPDATE,
        {"account_id": acc["id"], "user_id": user["id"], "fields": {"phone_number": bad}},
        token=token,
    )
    assert err.details["errors"][0]["field"] == "fields.phone_number.number"
    changed = await _update(
        system, acc, user, token, phone_number={"source": "inventory", "number": local}
    )
    assert changed["phone_number"]["number"] == second
    ev = await _event(system, acc, "events.identity.user.updated", user["id"], 2)
    assert ev["released"] == {"license": None, "number": first, "device_id": None}
    dropped = await _update(system, acc, user, token, phone_number=None)
    assert dropped["phone_number"] is None
    ev = await _event(system, acc, "events.identity.user.updated", user["id"], 3)
    assert ev["released"] == {"license": None, "number": second, "device_id": None}


async def test_extension_number_change_follows_the_rules_of_add(system: System) -> None:
    acc = await ready_account(system)
    token = system.token_for(acc["id"])
    a, b = await _add(system, acc, token), await _add(system, acc, token)
    for bad in (b["extension_number"], "12", "0999", "98765"):
        await system.expect_error(
            "validation_failed",
            UPDATE,
            {"account_id": acc["id"], "user_id": a["id"], "fields": {"extension_number": bad}},
            token=token,
        )
    changed = await _update(system, acc, a, token, extension_number="9876")
    assert changed["extension_number"] == "9876"
    exts = await system.call("identity.v1.extensions.list", {"account_id": acc["id"]}, token=token)
    mine = next(e for e in exts["items"] if e["id"] == a["extension_id"])
    assert mine["number"] == "9876"


async def test_disable_and_enable_emit_user_updated_with_the_status(system: System) -> None:
    acc = await ready_account(system)
    token = system.token_for(acc["id"])
    user = await _add(system, acc, token, setup=creds())
    off = await _update(system, acc, user, token, status="Disabled")
    assert off["status"] == "Disabled"
    ev = await _event(system, acc, "events.identity.user.updated", user["id"], 2)
    assert ev["status"] == "Disabled" and ev["released"] == NOTHING
    on = await _update(system, acc, user, token, status="Enabled")
    ev = await _event(system, acc, "events.identity.user.updated", user["id"], on["version"])
    assert ev["status"] == "Enabled"


async def test_remove_names_what_goes_back_to_inventory(system: System) -> None:
    acc = await ready_account(system)
    token = system.token_for(acc["id"])
    got = await _buy(
        system,
        acc,
        token,
        {"kind": "license", "user_type": "standard", "quantity": 1},
        {"kind": "number", "quantity": 1},
    )
    user = await _add(
        system,
        acc,
        token,
        user_type="standard",
        phone_number={"source": "inventory", "number": got["numbers"][0]},
    )
    removed = await system.call(
        "identity.v1.users.remove", {"account_id": acc["id"], "user_id": user["id"]}, token=token
    )
    ev = await _event(system, acc, "events.identity.user.removed", user["id"], removed["version"])
    assert ev["released"] == {
        "license": "standard",
        "number": got["numbers"][0],
        "device_id": None,
    }


# --- license bought with users.add ----------------------------------------------------


async def test_add_buys_the_license_only_with_acknowledgement_and_permission(
    system: System,
) -> None:
    acc = await ready_account(system)
    token = system.token_for(acc["id"])
    body: dict[str, Any] = {
        "account_id": acc["id"],
        "users": [entry(email(), user_type="standard")],
    }
    err = await system.expect_error("limit_exceeded", ADD, body, token=token)
    assert '"license": "purchase"' in err.message
    body["users"][0]["license"] = "purchase"
    err = await system.expect_error("validation_failed", ADD, body, token=token)
    assert err.details["errors"][0]["field"] == "acknowledge_charges"
    no_buyer = system.token_for(acc["id"], permissions=USERS_ADMIN)
    await system.expect_error(
        "forbidden", ADD, body | {"acknowledge_charges": True}, token=no_buyer
    )
    listed = await system.call("identity.v1.users.list", {"account_id": acc["id"]}, token=token)
    assert listed["items"] == []
    mobile = entry(email(), license="purchase")
    err = await system.expect_error(
        "validation_failed",
        ADD,
        {"account_id": acc["id"], "users": [mobile], "acknowledge_charges": True},
        token=token,
    )
    assert err.details["errors"][0]["field"] == "users[0].license"
    [user] = (await system.call(ADD, body | {"acknowledge_charges": True}, token=token))["users"]
    assert user["user_type"] == "standard"
    inv = await system.call("account.v1.inventory.get", {"account_id": acc["id"]}, token=token)
    std = next(x for x in inv["licenses"] if x["user_type"] == "standard")
    assert (std["total"], inv["free"]["licenses"]["standard"]) == (1, 0)


# --- calling_blocked -----------------------------------------------------------------


async def test_calling_blocked_only_for_calling_types_until_the_location_is_set(
    system: System,
) -> None:
    acc = await ready_account(system)
    token = system.token_for(acc["id"])
    await _buy(system, acc, token, {"kind": "license", "user_type": "standard", "quantity": 1})
    await _buy(
        system, acc, token, {"kind": "license", "user_type": "video_pro_plus", "quantity": 1}
    )
    blocked = {
        t: (await _add(system, acc, token, user_type=t))["calling_blocked"]
        for t in ("standard", "free", "mobile", "video_pro_plus")
    }
    assert blocked == {"standard": True, "free": True, "mobile": False, "video_pro_plus": False}
    user = await _add(system, acc, token, user_type="free")
    ev = await _event(system, acc, "events.identity.user.added", user["id"], 1)
    assert ev["calling_blocked"] is True
    location = {
        "line1": "1 Main St",
        "city": "Boston",
        "region": "MA",
        "postal_code": "02110",
        "country": "US",
    }
    done = await _update(system, acc, user, token, emergency_location=location)
    assert done["calling_blocked"] is False and done["needs_emergency_location"] is False
    ev = await _event(system, acc, "events.identity.user.updated", user["id"], 2)
    assert ev["calling_blocked"] is False


# --- extensions.remove ---------------------------------------------------------------


async def test_extensions_remove_only_unassigned_ones(system: System) -> None:
    acc = await ready_account(system)
    other = await ready_account(system)
    token = system.token_for(acc["id"])
    ext = await system.call("identity.v1.extensions.create", {"account_id": acc["id"]}, token=token)
    user = await _add(system, acc, token)
    await system.expect_error(
        "conflict",
        "identity.v1.extensions.remove",
        {"account_id": acc["id"], "extension_id": user["extension_id"]},
        token=token,
    )
    # another account's extension answers like a missing one
    await system.expect_error(
        "not_found",
        "identity.v1.extensions.remove",
        {"account_id": other["id"], "extension_id": ext["id"]},
        token=system.token_for(other["id"]),
    )
    gone = await system.call(
        "identity.v1.extensions.remove",
        {"account_id": acc["id"], "extension_id": ext["id"]},
        token=token,
    )
    assert gone["id"] == ext["id"] and gone["status"] == "Unassigned"
    exts = await system.call("identity.v1.extensions.list", {"account_id": acc["id"]}, token=token)
    assert ext["id"] not in [e["id"] for e in exts["items"]]
    await system.expect_error(
        "not_found",
        "identity.v1.extensions.remove",
        {"account_id": acc["id"], "extension_id": ext["id"]},
        token=token,
    )


# --- roles.set_default -----------------------------------------------------------------


async def test_default_role_is_set_by_admins_within_their_own_rights(system: System) -> None:
    acc = await ready_account(system)
    admin = system.token_for(acc["id"], permissions=USERS_ADMIN)
    await system.expect_error(
        "forbidden",
        "identity.v1.roles.set_default",
        {"account_id": acc["id"], "role": "Super Admin"},
        token=admin,
    )
    await system.expect_error(
        "forbidden",
        "identity.v1.roles.set_default",
        {"account_id": acc["id"], "role": "Standard User"},
        token=system.token_for(acc["id"], permissions=[Perm.USERS_MANAGE, Perm.SELF]),
    )
    await system.expect_error(
        "not_found",
        "identity.v1.roles.set_default",
        {"account_id": acc["id"], "role": "No Such Role"},
        token=admin,
    )
    role = await system.call(
        "identity.v1.roles.set_default",
        {"account_id": acc["id"], "role": "Standard User"},
        token=admin,
    )
    assert role["name"] == "Standard User" and role["default"] is True
    roles = await system.call("identity.v1.roles.list", {"account_id": acc["id"]}, token=admin)
    assert [r["name"] for r in roles["items"] if r["default"]] == ["Standard User"]
    user = await _add(system, acc, admin)
    assert user["role"] == "Standard User"
    named = await _add(system, acc, admin, role="Standard User (International)")
    assert named["role"] == "Standard User (International)"


async def test_desk_phone_swap_takes_the_new_one_and_gives_the_old_one_back(
    system: System,
) -> None:
    acc = await ready_account(system)
    token = system.token_for(acc["id"])
    got = await _buy(
        system,
        acc,
        token,
        {"kind": "license", "user_type": "standard", "quantity": 1},
        {"kind": "device", "model": "Yealink T54W", "quantity": 2},
    )
    first, second = got["device_ids"]
    user = await _add(
        system, acc, token, user_type="standard", phone={"source": "inventory", "device_id": first}
    )
    assert user["phone"]["device_id"] == first
    # the same phone again changes nothing in inventory
    same = await _update(
        system, acc, user, token, phone={"source": "inventory", "device_id": first}
    )
    ev = await _event(system, acc, "events.identity.user.updated", user["id"], same["version"])
    assert ev["released"] == NOTHING
    swapped = await _update(
        system, acc, user, token, phone={"source": "inventory", "device_id": second}
    )
    assert swapped["phone"]["device_id"] == second
    ev = await _event(system, acc, "events.identity.user.updated", user["id"], swapped["version"])
    assert ev["released"] == {"license": None, "number": None, "device_id": first}
    inv = await system.call("account.v1.inventory.get", {"account_id": acc["id"]}, token=token)
    status = {d["id"]: d["status"] for d in inv["devices"]}
    assert status[second] != "free"
    # a device of another account answers like a missing one, and nothing changes
    await system.expect_error(
        "not_found",
        UPDATE,
        {
            "account_id": acc["id"],
            "user_id": user["id"],
            "fields": {"phone": {"source": "inventory", "device_id": "dev_nowhere"}},
        },
        token=token,
    )
    got_back = await system.call(GET, {"account_id": acc["id"], "user_id": user["id"]}, token=token)
    assert got_back["phone"]["device_id"] == second
    assert got_back["version"] == swapped["version"]
    none = await _update(system, acc, user, token, phone={"source": "none"})
    assert none["phone"] == {"source": "none"}
    ev = await _event(system, acc, "events.identity.user.updated", user["id"], none["version"])
    assert ev["released"] == {"license": None, "number": None, "device_id": second}
