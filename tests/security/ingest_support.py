"""Helpers for the directory-request (ingest) security tests."""

from __future__ import annotations

import json
import uuid
from typing import Any

from nats.js.api import PubAck

from tests.integration.identity.conftest import identity_events
from tests.support.system import System, eventually, uid

REQUESTED = "ingest.directory.user.requested"
ADDED = "events.identity.user.added"
FAILED = "events.identity.user.provisioning_failed"


async def publish_request(
    system: System,
    account_id: str,
    user: dict[str, Any],
    *,
    token: str | None = None,
    request_id: str | None = None,
    **extra: Any,
) -> tuple[str, PubAck]:
    """Publish one directory request as another system would (the ingest connection)."""
    rid = request_id or uid("req")
    payload = {"request_id": rid, "account_id": account_id, "user": user} | extra
    headers = {"Nats-Msg-Id": str(uuid.uuid4())}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    ack = await system.ingest_nc.jetstream().publish(
        REQUESTED, json.dumps(payload).encode(), headers=headers
    )
    return rid, ack


async def outcome(system: System, account_id: str, request_id: str) -> dict[str, Any]:
    """The ``user.added`` or ``user.provisioning_failed`` event of one request."""

    async def find() -> dict[str, Any] | None:
        for ev in await identity_events(system, account_id):
            if ev["_subject"] in (ADDED, FAILED) and ev["data"].get("request_id") == request_id:
                return ev
        return None

    found: dict[str, Any] = await eventually(find, timeout=30)
    return found


async def integration_token(
    system: System, account_id: str, role: str = "Phone System Admin"
) -> dict[str, Any]:
    """A new integration of ``account_id`` (created by the operator), with its token."""
    return await system.call(
        "identity.v1.integrations.create",
        {"account_id": account_id, "name": f"HR sync {uid()}", "role": role},
        token=await system.operator_token(),
    )


async def users_of(system: System, account_id: str) -> list[dict[str, Any]]:
    page = await system.call(
        "identity.v1.users.list",
        {"account_id": account_id, "limit": 500},
        token=await system.operator_token(),
    )
    items: list[dict[str, Any]] = page["items"]
    return items
