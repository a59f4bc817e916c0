"""The CLI's only way into the system: a NATS connection (client role) and
``shared.messaging.client.call`` on the public subjects."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import nats
import nats.errors
from nats.aio.client import Client
from shared.errors import AppError
from shared.messaging.client import call

from provisioning_cli.config import Connection

# Exit status by outcome (documented in docs/cli.md).
EXIT_OK = 0
EXIT_FAILURE = 1  # anything not listed below
EXIT_USAGE = 2  # bad command line or input file (click's own code for usage errors)
EXIT_CONNECTION = 3  # cannot connect to NATS / not permitted by the broker
EXIT_PARTIAL = 4  # a bulk command finished but some rows failed
EXIT_BY_CODE: dict[str, int] = {
    "validation_failed": 10,
    "unauthenticated": 11,
    "forbidden": 12,
    "not_found": 13,
    "conflict": 14,
    "limit_exceeded": 15,
    "internal": 16,
    "unavailable": 17,
}

HINTS: dict[str, str] = {
    "validation_failed": "The request was refused; nothing changed.",
    "unauthenticated": "Not signed in, or the session expired or was revoked: "
    "run `provisioning login` (or `provisioning login --operator`).",
    "forbidden": "The session is not allowed to do this (another account, or an "
    "operator-only command).",
    "not_found": "No such object (or it belongs to an account this session cannot see).",
    "conflict": "The object is not in a state that allows this.",
    "limit_exceeded": "A limit was reached (licenses, inventory, sizes); nothing changed.",
    "internal": "The service failed; its logs have the details (search the correlation id).",
    "unavailable": "No service answered in time: is the system running (`make run`) and "
    "is NATS_URL right?",
}


class ConnectionFailed(Exception):
    """NATS could not be reached, or refused these credentials or a permission."""


class Connected:
    """An open connection plus the session token used for every call."""

    def __init__(self, nc: Client, errors: list[Exception]) -> None:
        self.nc = nc
        self.errors = errors  # asynchronous errors the server sent (permission violations)
        self.token: str | None = None

    async def call(
        self, subject: str, payload: dict[str, Any] | None = None, *, timeout: float = 10.0
    ) -> dict[str, Any]:
        return await call(self.nc, subject, payload or {}, token=self.token, timeout=timeout)


@asynccontextmanager
async def connect(conn: Connection) -> AsyncIterator[Connected]:
    errors: list[Exception] = []

    async def on_error(exc: Exception) -> None:
        errors.append(exc)

    kwargs: dict[str, Any] = {
        "servers": [conn.url],
        "allow_reconnect": False,
        "connect_timeout": 5,
        "max_reconnect_attempts": 0,
        "error_cb": on_error,
        "name": "provisioning-cli",
    }
    if conn.creds:
        kwargs["user_credentials"] = conn.creds
    elif conn.user:
        kwargs["user"] = conn.user
        kwargs["password"] = conn.password or ""
    if conn.inbox_prefix:
        kwargs["inbox_prefix"] = conn.inbox_prefix
    try:
        nc = await nats.connect(**kwargs)
    except (TimeoutError, OSError, nats.errors.Error) as exc:
        detail = str(exc) or type(exc).__name__
        if errors:
            detail = str(errors[-1]) or detail
        raise ConnectionFailed(f"Cannot connect to NATS at {conn.url}: {detail}") from exc
    try:
        yield Connected(nc, errors)
    finally:
        with suppress(TimeoutError, nats.errors.Error):
            await asyncio.wait_for(nc.close(), 5)


def describe(err: AppError) -> str:
    """One clear paragraph for an error reply: code, server message, field problems, hint."""
    lines = [f"Error ({err.code}): {err.message}"]
    details = dict(err.details or {})
    for e in details.pop("errors", None) or []:
        if isinstance(e, dict):
            where = e.get("field", "")
            idx = e.get("index")
            prefix = f"  - entry {idx}: " if idx is not None else "  - "
            lines.append(f"{prefix}{where}: {e.get('message', '')}")
    if details:
        lines.append("  details: " + ", ".join(f"{k}={v}" for k, v in details.items()))
    hint = HINTS.get(err.code)
    if hint:
        lines.append(hint)
    return "\n".join(lines)


def exit_code(err: AppError) -> int:
    return EXIT_BY_CODE.get(err.code, EXIT_FAILURE)
