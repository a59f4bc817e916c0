"""Asking identity about users engage's directory has not heard of yet."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from nats.aio.client import Client
from shared.errors import AppError
from shared.messaging.client import call

from shared import subjects as s

log = logging.getLogger(__name__)


class IdentityUsers:
    """``identity.v1.users.facts`` (internal): the snapshots identity's user events
    carry, straight from identity. ``None`` when identity cannot answer now."""

    def __init__(self, nc: Callable[[], Client], internal_key: str, timeout: float) -> None:
        self._nc = nc
        self._key = internal_key
        self._timeout = timeout

    async def facts(self, account_id: str, user_ids: list[str]) -> list[dict[str, Any]] | None:
        try:
            body = await call(
                self._nc(),
                s.USERS_FACTS,
                {"account_id": account_id, "user_ids": user_ids},
                internal_key=self._key,
                timeout=self._timeout,
            )
        except AppError as exc:
            log.warning("identity did not answer about %d unknown users: %s", len(user_ids), exc)
            return None
        users = body.get("users")
        return users if isinstance(users, list) else None
