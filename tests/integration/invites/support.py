"""Helpers for the invite-scheduler tests: identity's events published by hand (identity
is built in parallel), the invite database, mail and tokens."""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from invite_scheduler.main import dispatcher_of
from shared.auth import Perm, service_token
from shared.db import database_url_for, to_plain_url
from shared.messaging.client import call
from shared.service import Service

from shared import subjects as s
from tests.support.system import System, email, eventually, uid

PERMS = [Perm.INVITES_MANAGE, Perm.USERS_READ]
TOKEN_RE = re.compile(r"https://phone\.example\.com/activate/([A-Za-z0-9_\-]+)")


def db_url(system: System) -> str:
    return to_plain_url(database_url_for(system.database_url, f"{system.run_id}_invite_scheduler"))


async def fetch(system: System, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(db_url(system))
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def execute(system: System, sql: str, *args: Any) -> None:
    conn = await asyncpg.connect(db_url(system))
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()


async def publish(system: System, subject: str, data: dict[str, Any]) -> str:
    """An event exactly as identity's outbox would publish it (CloudEvent envelope,
    ``Nats-Msg-Id`` = event id)."""
    event_id = str(uuid.uuid4())
    envelope = {
        "specversion": "1.0",
        "id": event_id,
        "source": "identity",
        "type": subject.removeprefix("events."),
        "subject": data.get("user_id"),
        "time": datetime.now(UTC).isoformat(),
        "datacontenttype": "application/json",
        "data": data,
    }
    await system.harness_nc.jetstream().publish(
        subject, json.dumps(envelope).encode(), headers={"Nats-Msg-Id": event_id}
    )
    return event_id


def snapshot(account_id: str, user_id: str, address: str, **extra: Any) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "account_id": account_id,
        "extension_id": uid("ext_"),
        "extension_number": "1001",
        "status": "NotActivated",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": address,
        "user_type": "standard",
        "site_id": None,
        "cost_center_id": None,
        "role": "Standard User (International)",
        "job_title": None,
        "department": None,
        "regional": {},
        "needs_emergency_location": True,
        "must_change_password": False,
        "version": 1,
    } | extra


class World:
    """One account with its admin token, for one test."""

    def __init__(self, system: System, account: dict[str, Any]) -> None:
        self.system = system
        self.account = account
        self.account_id: str = account["id"]
        self.token = system.token_for(self.account_id, PERMS)

    async def call(self, subject: str, payload: dict[str, Any]) -> dict[str, Any]:
        return await self.system.call(
            subject, {"account_id": self.account_id} | payload, token=self.token
        )

    async def error(self, code: str, subject: str, payload: dict[str, Any]) -> Any:
        return await self.system.expect_error(
            code, subject, {"account_id": self.account_id} | payload, token=self.token
        )

    async def add_user(self, **extra: Any) -> tuple[str, str]:
        """A user added with ``activate_later``, projected by the invite scheduler."""
        user_id, address = uid("usr_"), email("invitee")
        data = snapshot(self.account_id, user_id, address, **extra) | {
            "setup_option": "activate_later"
        }
        await publish(self.system, s.USER_ADDED, data)

        async def projected() -> bool:
            rows = await fetch(self.system, "SELECT 1 FROM users WHERE user_id = $1", user_id)
            return bool(rows)

        await eventually(projected)
        return user_id, address


async def new_world(system: System) -> World:
    account = await system.create_account(name=f"Initech {uid()}")

    async def projected() -> bool:
        rows = await fetch(system, "SELECT 1 FROM accounts WHERE account_id = $1", account["id"])
        return bool(rows)

    await eventually(projected)
    return World(system, account)


def mails_to(system: System, address: str) -> list[Any]:
    return system.mail.messages_to(address)


def text_of(msg: Any) -> str:
    part = msg.get_body(preferencelist=("plain",))
    return str(part.get_content()) if part else ""


def html_of(msg: Any) -> str:
    part = msg.get_body(preferencelist=("html",))
    return str(part.get_content()) if part else ""


def token_in(msg: Any) -> str:
    m = TOKEN_RE.search(text_of(msg))
    assert m, text_of(msg)
    return m.group(1)


async def wait_mails(
    system: System, address: str, count: int = 1, timeout: float = 15.0
) -> list[Any]:
    return list(
        await eventually(
            lambda: len(mails_to(system, address)) >= count and mails_to(system, address), timeout
        )
    )


async def redeem(system: System, token: str, dry_run: bool = False) -> dict[str, Any]:
    return await call(
        system.harness_nc,
        s.INVITES_REDEEM,
        {"token": token, "dry_run": dry_run},
        token=service_token(system.private_key, "identity"),
        internal_key=system.internal_key,
    )


def local_in(zone: str, delta: timedelta) -> str:
    return (datetime.now(ZoneInfo(zone)) + delta).strftime("%Y-%m-%dT%H:%M:%S")


@contextlib.asynccontextmanager
async def shared_scheduler_paused(system: System) -> AsyncIterator[None]:
    """The session's own invite-scheduler keeps serving requests and events but stops
    sending: the replicas a test starts itself do the sending (or nobody does)."""
    d = dispatcher_of(system.services["invite-scheduler"])
    d.pause()
    try:
        yield
    finally:
        d.resume()


@contextlib.asynccontextmanager
async def replica(system: System, **overrides: Any) -> AsyncIterator[Service]:
    svc = await system.start("invite-scheduler", **overrides)
    try:
        yield svc
    finally:
        await svc.app.stop()
