from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from shared.contracts.events import CloudEvent
from shared.messaging.client import call

from tests.support.system import System, uid


async def publish_event(system: System, subject: str, data: dict[str, Any], source: str) -> None:
    """A synthetic event from another service, in its CloudEvent envelope."""
    ev = CloudEvent(source=source, type=subject.removeprefix("events."), data=data)
    await system.harness_nc.jetstream().publish(
        subject, ev.model_dump_json().encode(), headers={"Nats-Msg-Id": ev.id}
    )


async def publish_call(
    system: System,
    account_id: str,
    user_id: str,
    call_id: str | None = None,
    started_at: datetime | None = None,
) -> str:
    call_id = call_id or uid("call_")
    body = {
        "call_id": call_id,
        "account_id": account_id,
        "user_id": user_id,
        "direction": "outbound",
        "started_at": (started_at or datetime.now(UTC)).isoformat(),
    }
    # a replay from the platform carries a new message id: only call_id deduplicates it
    await system.ingest_nc.jetstream().publish(
        "ingest.telephony.call.completed",
        json.dumps(body).encode(),
        headers={"Nats-Msg-Id": uid("msg_")},
    )
    return call_id


def user_snapshot(
    account_id: str, user_id: str, user_type: str, version: int = 1, **over: Any
) -> dict[str, Any]:
    """A user as identity's events carry it (their contract: UserSnapshot)."""
    return {
        "user_id": user_id,
        "account_id": account_id,
        "extension_id": uid("ext_"),
        "extension_number": "101",
        "status": "NotActivated",
        "first_name": "Test",
        "last_name": "User",
        "email": f"{user_id}@example.com",
        "user_type": user_type,
        "role": "Standard User",
        "regional": {},
        "needs_emergency_location": False,
        "must_change_password": False,
        "version": version,
    } | over


async def user_added(system: System, account_id: str, user_type: str, version: int = 1) -> str:
    user_id = uid("usr_")
    await publish_event(
        system,
        "events.identity.user.added",
        user_snapshot(account_id, user_id, user_type, version) | {"setup_option": "activate_later"},
        "identity",
    )
    return user_id


PASSWORD = "violet-harbour-47"


async def signed_in_admin(
    system: System, account_id: str, role: str = "Super Admin"
) -> tuple[dict[str, Any], str]:
    """A real user of the account (as identity records it) and its session: what a
    portal switch needs, since identity re-checks the caller on its own records."""
    address = f"admin-{uid()}@example.com"
    entry = {
        "first_name": "Ada",
        "last_name": "Admin",
        "email": address,
        "user_type": "mobile",
        "role": role,
        "setup": {
            "option": "assign_credentials",
            "password": PASSWORD,
            "temporary_password": False,
            "pin": "480213",
            "security_question": "First pet?",
            "security_answer": "Rex the dog",
        },
    }
    [user] = (
        await system.call(
            "identity.v1.users.add",
            {"account_id": account_id, "users": [entry]},
            token=await system.operator_token(),
        )
    )["users"]
    session = await system.call("identity.v1.auth.login", {"email": address, "password": PASSWORD})
    return user, str(session["token"])


async def internal_call(system: System, subject: str, payload: dict[str, Any]) -> dict[str, Any]:
    """An internal subject (allocate, release) as identity calls it, with the key."""
    return await call(
        system.harness_nc,
        subject,
        payload,
        token=await system.operator_token(),
        internal_key=system.internal_key,
        timeout=10,
    )


async def user_facts_marker(system: System) -> Callable[[], Awaitable[bool]]:
    """Publish onto identity's stream an event whose effect can be seen without changing
    anything (a number given back to a fresh account's inventory) and return the check
    that it was applied: identity events published before it have been applied too
    (the ``account-user-facts`` consumer takes them in stream order)."""
    acc = await system.create_account()
    token = system.token_for(acc["id"])
    await system.call(
        "account.v1.inventory.purchase",
        {"account_id": acc["id"], "acknowledge_charges": True, "items": [{"kind": "number"}]},
        token=token,
    )
    got = await internal_call(
        system,
        "account.v1.inventory.allocate",
        {"request_id": uid("req_"), "account_id": acc["id"], "items": [{"kind": "number"}]},
    )
    released = {"license": None, "number": got["allocations"][0]["number"], "device_id": None}
    await publish_event(
        system,
        "events.identity.user.removed",
        {"user_id": uid("usr_"), "account_id": acc["id"], "version": 1, "released": released},
        "identity",
    )

    async def applied() -> bool:
        inv = await system.call("account.v1.inventory.get", {"account_id": acc["id"]}, token=token)
        return bool(inv["free"]["numbers"] == 1)

    return applied
