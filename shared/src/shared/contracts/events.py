"""The CloudEvents envelope every event travels in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def new_event_id() -> str:
    return str(uuid.uuid4())


class CloudEvent(BaseModel):
    """CloudEvents 1.0 attributes with a JSON ``data`` payload.

    ``id`` is also the ``Nats-Msg-Id`` header, so JetStream drops a re-published
    copy inside its dedupe window and consumers' inboxes drop it after that.
    """

    model_config = ConfigDict(extra="allow")

    specversion: str = "1.0"
    id: str = Field(default_factory=new_event_id)
    source: str
    type: str
    subject: str | None = None
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    datacontenttype: str = "application/json"
    correlationid: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
