from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from faststream.nats import NatsBroker, NatsResponse
from shared.messaging.client import call
from shared.messaging.rpc import Endpoint, RpcRouter

from shared import subjects as s

caller_token: ContextVar[str] = ContextVar("caller_token", default="")


class AccountRpcRouter(RpcRouter):
    """Keeps the caller's bearer token for the request (a portal switch forwards it
    to identity); it lives only in this context, never in logs or replies."""

    async def dispatch(
        self, ep: Endpoint, data: bytes, headers: dict[str, str] | None
    ) -> NatsResponse:
        raw = ""
        for k, v in (headers or {}).items():
            if k.lower() == "authorization":
                raw = v.partition(" ")[2].strip()
                break
        token = caller_token.set(raw)
        try:
            return await super().dispatch(ep, data, headers)
        finally:
            caller_token.reset(token)


class NatsIdentityClient:
    def __init__(self, broker: NatsBroker, internal_key: str, timeout: float) -> None:
        self._broker = broker
        self._key = internal_key
        self._timeout = timeout

    async def mint(
        self, caller_token: str, account_id: str, user_id: str, portal_id: str
    ) -> dict[str, Any]:
        return await call(
            self._broker.connection,
            s.AUTH_MINT,
            {"account_id": account_id, "user_id": user_id, "portal_id": portal_id},
            token=caller_token,
            internal_key=self._key,
            timeout=self._timeout,
        )
