"""Calls to other services over NATS (request/reply), as the ports describe."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nats.aio.client import Client
from shared.auth import service_token
from shared.contracts.account import PLAN_USER_TYPES, AccountFacts
from shared.errors import NotFound
from shared.messaging.client import call

from shared import subjects as s


class _Caller:
    def __init__(
        self,
        nc: Callable[[], Client],
        private_key: str,
        internal_key: str,
        timeout: float = 10.0,
    ) -> None:
        self._nc = nc
        self._key = private_key
        self._internal = internal_key
        self._timeout = timeout

    async def _call(self, subject: str, payload: dict[str, Any]) -> dict[str, Any]:
        return await call(
            self._nc(),
            subject,
            payload,
            token=service_token(self._key, "identity"),
            internal_key=self._internal,
            timeout=self._timeout,
        )


class AccountInventory(_Caller):
    async def allocate(
        self,
        *,
        request_id: str,
        account_id: str,
        acknowledge_charges: bool,
        purchase_allowed: bool,
        items: list[dict[str, Any]],
    ) -> dict[str, Any]:
        return await self._call(
            s.INVENTORY_ALLOCATE,
            {
                "request_id": request_id,
                "account_id": account_id,
                "acknowledge_charges": acknowledge_charges,
                "purchase_allowed": purchase_allowed,
                "items": items,
            },
        )

    async def release(self, request_id: str) -> None:
        await self._call(s.INVENTORY_RELEASE, {"request_id": request_id})


class AccountDirectory(_Caller):
    async def fetch_facts(self, account_id: str) -> dict[str, Any] | None:
        """The account's facts straight from the account service (None: no such account)."""
        try:
            acc = await self._call(s.ACCOUNTS_GET, {"account_id": account_id})
        except NotFound:
            return None
        st = acc["settings"]
        return AccountFacts(
            account_id=acc["id"],
            name=acc["name"],
            country=acc["country"],
            plan=acc["plan"],
            status=acc["status"],
            multi_site=acc["multi_site"],
            extension_length=acc["extension_length"],
            require_unique_email=st["require_unique_email"],
            default_time_zone=st["default_time_zone"],
            default_language=st["default_language"],
            regional_format=st["regional_format"],
            user_types=list(PLAN_USER_TYPES.get(acc["plan"], ())),
            status_reason=acc.get("status_reason"),
            version=0,  # any event about this account is newer
        ).model_dump()


class InviteRedeemer(_Caller):
    async def redeem(self, token: str, *, dry_run: bool) -> dict[str, Any]:
        return await self._call(s.INVITES_REDEEM, {"token": token, "dry_run": dry_run})


class RecoveryRedeemer(_Caller):
    """The invite-scheduler's ``invites.v1.recovery.redeem`` (identity.handlers.recovery)."""

    async def redeem(self, token: str, action: str) -> dict[str, Any]:
        return await self._call(s.INVITES_RECOVERY_REDEEM, {"token": token, "action": action})
