"""identity.v1.users.remove and identity.v1.users.reset_credentials (issue 12,
DOMAIN.md section 6 "Lifecycle": remove, credentials)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from tests.integration.identity.conftest import creds, entry, identity_events, ready_account
from tests.security.snapshot import unchanged
from tests.support.system import System, email, eventually

REMOVE = "identity.v1.users.remove"
RESET = "identity.v1.users.reset_credentials"
PASSWORD = "violet-harbour-47"


async def _add(system: System, account_id: str, **over: Any) -> dict[str, Any]:
    reply = await system.call(
        "identity.v1.users.add",
        {"account_id": account_id, "users": [entry(email(), **over)]},
        token=await system.operator_token(),
    )
    return dict(reply["users"][0])


def _scheduled() -> dict[str, Any]:
    local = (datetime.now(ZoneInfo("America/New_York")) + timedelta(days=3)).replace(
        hour=9, minute=0, second=0, microsecond=0
    )
    return {
        "option": "schedule_invite",
        "send_at": local.strftime("%Y-%m-%dT%H:%M"),
        "time_zone": "America/New_York",
    }


async def _removed_in(system: System, service: str, table: str, user_id: str) -> bool | None:
    """The ``removed`` flag of the user in a service's projection (None: unknown)."""
    svc = system.services[service]
    assert svc.sessions is not None
    async with svc.sessions() as s:
        row = (
            await s.execute(
                sa.text(f"SELECT removed FROM {table} WHERE user_id = :u"),
                {"u": user_id},
            )
        ).first()
    return None if row is None else bool(row[0])


async def _directory_removed(system: System, user_id: str) -> bool | None:
    return await _removed_in(system, "engage-import", "directory_users", user_id)


async def test_remove_converges_everywhere_and_frees_the_email(system: System) -> None:
    acc = await ready_account(system)
    token = system.token_for(acc["id"])
    admin = await _add(system, acc["id"], role="Super Admin", setup=creds())
    user = await _add(system, acc["id"], setup=_scheduled())
    session = await system.call(
        "identity.v1.auth.login", {"email": admin["email"], "password": PASSWORD}
    )
    assert session["token"]

    async def invite() -> dict[str, Any] | None:
        items = (
            await system.call(
                "invites.v1.list", {"account_id": acc["id"], "user_id": user["id"]}, token=token
            )
        )["items"]
        return items[0] if items else None

    assert (await eventually(invite, timeout=20))["status"] == "Scheduled"

    async def known_to_engage() -> bool:
        return await _directory_removed(system, user["id"]) is False

    await eventually(known_to_engage, timeout=20)

    removed = await system.call(
        REMOVE, {"account_id": acc["id"], "user_id": user["id"]}, token=token
    )
    assert removed["id"] == user["id"] and removed["status"] == "Removed"

    # user.removed, with the declared data contract
    async def removed_event() -> list[dict[str, Any]]:
        evs = await identity_events(system, acc["id"], "events.identity.user.removed")
        return [e for e in evs if e["data"]["user_id"] == user["id"]]

    [ev] = await eventually(removed_event)
    assert ev["data"] == {
        "user_id": user["id"],
        "account_id": acc["id"],
        "version": removed["version"],
        # a Mobile user holds nothing from inventory
        "released": {"license": None, "number": None, "device_id": None},
    }

    # the invite scheduler cancels the live invite; engage drops it from its directory
    async def cancelled() -> bool:
        got = await invite()
        return got is not None and got["status"] == "Cancelled"

    await eventually(cancelled, timeout=20)

    async def dropped_by_engage() -> bool:
        return await _directory_removed(system, user["id"]) is True

    await eventually(dropped_by_engage, timeout=20)

    # account's projection (counts, metering) knows the user is gone
    async def gone_for_account() -> bool:
        return await _removed_in(system, "account", "known_users", user["id"]) is True

    await eventually(gone_for_account, timeout=20)

    # gone from identity; the extension is Unassigned again
    r = await system.raw(
        "identity.v1.users.get", {"account_id": acc["id"], "user_id": user["id"]}, token=token
    )
    assert r.error_code == "not_found"
    exts = await system.call(
        "identity.v1.extensions.list",
        {"account_id": acc["id"], "status": "Unassigned"},
        token=token,
    )
    assert user["extension_id"] in {x["id"] for x in exts["items"]}

    # removing again: not_found (chosen: a removed user does not exist any more)
    again = await system.raw(REMOVE, {"account_id": acc["id"], "user_id": user["id"]}, token=token)
    assert again.error_code == "not_found"

    # the email may be used again (DOMAIN.md section 6)
    fresh = await system.call(
        "identity.v1.users.add",
        {"account_id": acc["id"], "users": [entry(user["email"])]},
        token=token,
    )
    assert fresh["users"][0]["id"] != user["id"]


async def test_remove_with_delete_extension_and_no_sign_in_afterwards(system: System) -> None:
    acc = await ready_account(system)
    token = system.token_for(acc["id"])
    await _add(system, acc["id"], role="Super Admin", setup=creds())
    user = await _add(system, acc["id"], setup=creds())
    await system.call("identity.v1.auth.login", {"email": user["email"], "password": PASSWORD})
    await system.call(
        REMOVE,
        {"account_id": acc["id"], "user_id": user["id"], "delete_extension": True},
        token=token,
    )
    exts = await system.call("identity.v1.extensions.list", {"account_id": acc["id"]}, token=token)
    assert user["extension_id"] not in {x["id"] for x in exts["items"]}
    r = await system.raw("identity.v1.auth.login", {"email": user["email"], "password": PASSWORD})
    assert r.error_code == "unauthenticated"


async def test_least_privilege_and_last_admin_refusals_change_nothing(system: System) -> None:
    acc = await ready_account(system)
    admin = await _add(system, acc["id"], role="Super Admin", setup=creds())
    manager = await _add(system, acc["id"], role="Users Admin", setup=creds())
    manager_token = (
        await system.call(
            "identity.v1.auth.login", {"email": manager["email"], "password": PASSWORD}
        )
    )["token"]
    operator = await system.operator_token()
    target = {"account_id": acc["id"], "user_id": admin["id"]}
    async with unchanged(system):
        # a Users Admin lacks some of a Super Admin's permissions
        r = await system.raw(REMOVE, target, token=manager_token)
        assert r.error_code == "forbidden"
        r = await system.raw(RESET, target | {"password": "amber-lantern-93"}, token=manager_token)
        assert r.error_code == "forbidden"
        # the last enabled full admin cannot be removed, even by an operator
        r = await system.raw(REMOVE, target, token=operator)
        assert r.error_code == "conflict"
        assert r.body["error"]["details"]["rule"] == "last_full_admin"
        # nothing to reset / a weak password / an unknown user
        r = await system.raw(RESET, target, token=operator)
        assert r.error_code == "validation_failed"
        r = await system.raw(RESET, target | {"password": "password123"}, token=operator)
        assert r.error_code == "validation_failed"
        r = await system.raw(
            REMOVE, {"account_id": acc["id"], "user_id": "usr_nobody"}, token=operator
        )
        assert r.error_code == "not_found"


async def test_reset_credentials_of_an_enabled_user(system: System) -> None:
    acc = await ready_account(system)
    token = system.token_for(acc["id"])
    user = await _add(system, acc["id"], setup=creds())
    reset = await system.call(
        RESET,
        {"account_id": acc["id"], "user_id": user["id"], "password": "amber-lantern-93"},
        token=token,
    )
    assert reset["status"] == "Enabled" and reset["must_change_password"] is True
    bad = await system.raw("identity.v1.auth.login", {"email": user["email"], "password": PASSWORD})
    assert bad.error_code == "unauthenticated"
    session = await system.call(
        "identity.v1.auth.login", {"email": user["email"], "password": "amber-lantern-93"}
    )
    assert session["must_change_password"] is True
    # a NotActivated user is activated with assign_credentials, not reset
    later = await _add(system, acc["id"])
    r = await system.raw(
        RESET,
        {"account_id": acc["id"], "user_id": later["id"], "password": "amber-lantern-93"},
        token=token,
    )
    assert r.error_code == "conflict"
