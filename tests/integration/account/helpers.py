from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from shared.contracts.events import CloudEvent

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


async def user_added(system: System, account_id: str, user_type: str, version: int = 1) -> str:
    user_id = uid("usr_")
    await publish_event(
        system,
        "events.identity.user.added",
        {
            "user_id": user_id,
            "account_id": account_id,
            "user_type": user_type,
            "status": "NotActivated",
            "version": version,
            "setup_option": "activate_later",
        },
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
