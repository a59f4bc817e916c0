"""What a consumer is made of: the :class:`Subscription` a service declares, the
:class:`Delivery` its handler gets, and :class:`Poison` (shared.messaging.consumer runs
them)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from shared import subjects as s
from shared.contracts.event_data import EVENT_DATA, UserRemoved, UserSnapshot
from shared.db import UnitOfWork
from shared.faults import Permanent
from shared.logs import correlation_id
from shared.tracing import consumer_span

RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)

M = TypeVar("M", bound=BaseModel)


class Poison(Permanent):
    """The message can never succeed: dead-letter it now."""


@dataclass
class Delivery:
    subject: str
    data: dict[str, Any]
    headers: dict[str, str]
    message_id: str
    num_delivered: int
    published_at: datetime | None = None
    """When JetStream stored the message: a handler that meets a fact it has not heard
    of yet may raise :class:`Transient` while this is recent (eventual consistency)."""

    def event(self, model: type[M]) -> M:
        """The event's ``data`` parsed, once, into its contract: the one model of its
        type in :data:`shared.contracts.event_data.EVENT_DATA` (producers emit the
        same). ``model`` is what the consumer expects: that contract or a base of it
        (``UserSnapshot`` for every user snapshot). An event that does not match, or
        that is not a ``model``, is :class:`Poison` (dead-lettered at once, redacted).
        Our services' events are CloudEvents (``data`` inside); an ``ingest.*``
        message from another system may also be the bare data."""
        data = self.data.get("data")
        if not isinstance(data, dict):
            if not self.subject.startswith("ingest.") or "data" in self.data:
                raise Poison(f"{self.subject}: event without data")
            data = self.data
        contract = EVENT_DATA.get(self.subject)
        if contract is None or not issubclass(contract, model):
            raise Poison(f"{self.subject}: no {model.__name__} contract")
        try:
            return contract.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(x) for x in e['loc']) or 'data'}: {e['msg']}"
                for e in exc.errors(include_url=False, include_input=False)[:5]
            )
            raise Poison(f"{self.subject}: not its contract ({problems})") from exc

    def user_event(self) -> UserSnapshot | UserRemoved:
        """An identity user event (:meth:`event`): a removal or a user's snapshot."""
        if self.subject == s.USER_REMOVED:
            return self.event(UserRemoved)
        return self.event(UserSnapshot)


MessageHandler = Callable[[Delivery, UnitOfWork], Awaitable[None]]
BatchHandler = Callable[[list[Delivery], UnitOfWork], Awaitable[None]]


def default_message_id(subject: str, data: dict[str, Any], headers: dict[str, str]) -> str:
    """The CloudEvent id (equal to ``Nats-Msg-Id`` for our events), else the header."""
    return str(data.get("id") or headers.get("Nats-Msg-Id") or "")


@dataclass
class Subscription:
    """One durable consumer: ``name`` is the durable name (and the inbox key)."""

    name: str
    stream: str
    filter_subjects: list[str]
    handler: MessageHandler | None = None
    """One message at a time (inside the batch's transaction)."""
    message_id: Callable[[str, dict[str, Any], dict[str, str]], str] = default_message_id
    batch: int = 100
    max_deliver: int = 0
    """Failures of a message *not* caused by a transient fault before it is poison
    (0: the service's ``CONSUMER_MAX_DELIVER``, filled in by ``Service.subscribe``;
    10 for a runner made outside a service)."""
    ack_wait: float = 30.0
    retry_delays: tuple[float, ...] = RETRY_DELAYS
    """NAK delays by attempt; the last one is the cap, repeated for ever."""
    batch_handler: BatchHandler | None = None
    """Instead of ``handler``: every new message of a fetched batch in one call (one
    statement for many events)."""

    def __post_init__(self) -> None:
        if (self.handler is None) == (self.batch_handler is None):
            raise ValueError(f"{self.name}: give exactly one of handler and batch_handler")

    async def handle(self, deliveries: list[Delivery], uow: UnitOfWork) -> None:
        if self.batch_handler is not None:
            await self.batch_handler(deliveries, uow)
            return
        assert self.handler is not None
        for d in deliveries:
            token = correlation_id.set(d.data.get("correlationid") or d.message_id)
            try:
                with consumer_span(self.name, d.subject, d.data, d.headers):
                    await self.handler(d, uow)
            finally:
                correlation_id.reset(token)
