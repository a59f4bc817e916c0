"""Calling another service (and tests, and scripts): request, validate the reply."""

from __future__ import annotations

import json
from typing import Any

import nats.errors
from nats.aio.client import Client
from pydantic import BaseModel

from shared.errors import Unavailable, error_from_body
from shared.logs import correlation_id


async def call(
    nc: Client,
    subject: str,
    payload: BaseModel | dict[str, Any] | None = None,
    *,
    token: str | None = None,
    timeout: float = 5.0,
    internal_key: str | None = None,
) -> dict[str, Any]:
    """Request/reply; raise the AppError an error reply carries."""
    if isinstance(payload, BaseModel):
        data = payload.model_dump_json(exclude_none=True).encode()
    else:
        data = json.dumps(payload or {}, default=str).encode()
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if internal_key:
        headers["X-Internal-Key"] = internal_key
    cid = correlation_id.get()
    if cid:
        headers["X-Correlation-Id"] = cid
    try:
        msg = await nc.request(subject, data, timeout=timeout, headers=headers)
    except (nats.errors.TimeoutError, nats.errors.NoRespondersError) as exc:
        raise Unavailable(f"No answer from {subject}.", {"subject": subject}) from exc
    body: dict[str, Any] = json.loads(msg.data) if msg.data else {}
    if msg.headers and "Nats-Service-Error-Code" in msg.headers:
        raise error_from_body(body)
    return body
