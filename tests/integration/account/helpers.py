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
