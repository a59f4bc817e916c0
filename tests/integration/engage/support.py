"""Helpers for the engage-import tests: identity's user events are published
straight to JetStream, as identity would (CloudEvent envelope, Nats-Msg-Id)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from shared.auth import Perm
from shared.errors import AppError
from shared.ids import new_id

from shared import subjects as s
from tests.support.system import System, email, eventually, uid

ADMIN = [Perm.ENGAGE_MANAGE, Perm.ENGAGE_READ]


def envelope(subject: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "identity",
        "type": subject.removeprefix("events."),
        "time": datetime.now(UTC).isoformat(),
        "datacontenttype": "application/json",
        "data": data,
    }


def snapshot(account_id: str, **fields: Any) -> dict[str, Any]:
    first = fields.pop("first_name", f"First{uid('')}")
    last = fields.pop("last_name", f"Last{uid('')}")
    tz = fields.pop("time_zone", "America/New_York")
    lang = fields.pop("language", "en-US")
    return {
        "user_id": fields.pop("user_id", None) or new_id("usr"),
        "account_id": account_id,
        "extension_id": new_id("ext"),
        "extension_number": "101",
        "status": "Enabled",
        "first_name": first,
        "last_name": last,
        "email": fields.pop("email", None) or email("agent"),
        "user_type": "standard",
        "site_id": None,
        "cost_center_id": None,
        "role": "Standard User (International)",
        "job_title": None,
        "department": None,
        "regional": {
            "language": lang,
            "greeting_language": lang,
            "regional_format": lang,
            "time_zone": tz,
        },
        "needs_emergency_location": False,
        "must_change_password": False,
        "version": fields.pop("version", 1),
        "setup_option": "activate_later",
    } | fields


async def publish(system: System, subject: str, data: dict[str, Any]) -> None:
    env = envelope(subject, data)
    await system.harness_nc.jetstream().publish(
        subject, json.dumps(env).encode(), headers={"Nats-Msg-Id": env["id"]}
    )


async def publish_users(
    system: System, users: list[dict[str, Any]], subject: str = s.USER_ADDED
) -> None:
    for i in range(0, len(users), 500):
        await asyncio.gather(*(publish(system, subject, u) for u in users[i : i + 500]))


async def add_users(system: System, account_id: str, n: int, **fields: Any) -> list[dict[str, Any]]:
    users = [snapshot(account_id, **dict(fields)) for _ in range(n)]
    await publish_users(system, users)
    return users


async def link(system: System, account_id: str, **fields: Any) -> dict[str, Any]:
    """Link an Engage account, once engage-import has seen the phone-system account."""
    token = system.token_for(account_id, ADMIN)
    payload = {"engage_account": {"name": f"Engage {uid()}"} | fields, "account_id": account_id}

    async def attempt() -> dict[str, Any] | None:
        try:
            return await system.call(s.ENGAGE_LINKS_CREATE, payload, token=token)
        except AppError as err:
            if err.code == "not_found":
                return None
            raise

    result: dict[str, Any] = await eventually(attempt, timeout=20)
    return result


async def setup(system: System, **account: Any) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A phone-system account, its linked Engage account and an admin token."""
    acc = await system.create_account(**account)
    lnk = await link(system, acc["id"])
    return acc, lnk, system.token_for(acc["id"], ADMIN)


async def candidates(
    system: System, token: str, engage_account_id: str, **query: Any
) -> dict[str, Any]:
    return await system.call(
        s.ENGAGE_CANDIDATES_LIST, {"engage_account_id": engage_account_id} | query, token=token
    )


async def wait_directory(
    system: System, token: str, engage_account_id: str, n: int, timeout: float = 30
) -> None:
    """Until step 1 shows ``n`` users."""

    async def count() -> bool:
        seen, cursor = 0, None
        while True:
            page = await candidates(system, token, engage_account_id, limit=500, cursor=cursor)
            seen += len(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                return seen >= n

    await eventually(count, timeout=timeout, interval=0.2)


async def run_import(
    system: System, token: str, engage_account_id: str, user_ids: list[str], **extra: Any
) -> dict[str, Any]:
    job = await system.call(
        s.ENGAGE_AGENTS_IMPORT,
        {"engage_account_id": engage_account_id, "user_ids": user_ids, "role_id": "agent"} | extra,
        token=token,
    )
    return await finished(system, token, engage_account_id, job["id"])


async def finished(
    system: System, token: str, engage_account_id: str, import_id: str, timeout: float = 60
) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        job = await system.call(
            s.ENGAGE_IMPORTS_GET,
            {"engage_account_id": engage_account_id, "import_id": import_id, "results_limit": 500},
            token=token,
        )
        return job if job["status"] == "finished" else None

    result: dict[str, Any] = await eventually(done, timeout=timeout, interval=0.1)
    return result
