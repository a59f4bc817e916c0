"""Durable JetStream consumers: explicit ack, inbox dedupe, delayed retry, dead letters.

Policy, per subscription:
- a message is handled in one database transaction together with its inbox row;
  it is acked only after that commit, so nothing acknowledged is lost and a
  redelivery changes nothing;
- a :class:`Poison` error (or a payload that does not parse) goes to the
  ``dead_letters`` table at once and is terminated;
- any other error is retried with a delay that grows with the delivery count
  (``NAK`` with delay) up to ``max_deliver``; then it is dead-lettered too;
- an operator lists and replays dead letters over ``<service>.v1.dead_letters.*``.

Consumers wait for a stream they do not own to appear instead of creating it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import nats.errors
import sqlalchemy as sa
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import UnitOfWork
from shared.logs import correlation_id
from shared.messaging.inbox import claim
from shared.messaging.tables import dead_letters
from shared.observability import Metrics
from shared.tracing import consumer_span

log = logging.getLogger(__name__)

RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class Poison(Exception):
    """The message can never succeed: dead-letter it now."""


@dataclass
class Delivery:
    subject: str
    data: dict[str, Any]
    headers: dict[str, str]
    message_id: str
    num_delivered: int


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
    max_deliver: int = 10
    ack_wait: float = 30.0
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


class ConsumerRunner:
    def __init__(
        self,
        sub: Subscription,
        js: JetStreamContext,
        sessions: async_sessionmaker[AsyncSession],
        uow_factory: Callable[[], UnitOfWork],
    ) -> None:
        self.sub = sub
        self._js = js
        self._sessions = sessions
        self._uow = uow_factory
        self.ready = asyncio.Event()
        self.stopped = False
        self.metrics: Metrics | None = None  # set by the Service (shared.observability)

    def stop(self) -> None:
        """Finish the batch in hand, then leave the loop."""
        self.stopped = True

    async def _subscribe(self) -> Any:
        cfg = ConsumerConfig(
            durable_name=self.sub.name,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.sub.ack_wait,
            max_deliver=self.sub.max_deliver + 1,
            max_ack_pending=max(1000, self.sub.batch * 10),
            filter_subjects=self.sub.filter_subjects,
        )
        delay = 0.2
        while True:
            try:
                await self._js.stream_info(self.sub.stream)
                return await self._bind(cfg)
            except NotFoundError:
                log.info(
                    "waiting for stream %s", self.sub.stream, extra={"consumer": self.sub.name}
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _bind(self, cfg: ConsumerConfig) -> Any:
        await self._js.add_consumer(self.sub.stream, cfg)  # creates, or updates in place
        return await self._js.pull_subscribe_bind(durable=self.sub.name, stream=self.sub.stream)

    async def run(self) -> None:
        psub = await self._subscribe()
        self.ready.set()
        try:
            while not self.stopped:
                if _being_cancelled():
                    # Python 3.11's wait_for (inside nats-py's fetch) can swallow a
                    # cancellation; the request is still counted on the task
                    raise asyncio.CancelledError
                try:
                    msgs = await psub.fetch(self.sub.batch, timeout=1.0)
                except (nats.errors.TimeoutError, TimeoutError):
                    continue
                except asyncio.CancelledError:
                    raise
                except Exception:
                    if _being_cancelled():
                        # nats-py turns a cancelled fetch into ConnectionClosedError
                        raise asyncio.CancelledError from None
                    log.exception("fetch failed", extra={"consumer": self.sub.name})
                    await asyncio.sleep(1.0)
                    continue
                try:
                    await self.process(msgs)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("batch failed", extra={"consumer": self.sub.name})
        finally:
            # an open pull subscription would hold the connection's drain for its full timeout
            self.ready.clear()
            with contextlib.suppress(Exception):
                await psub.unsubscribe()

    def _decode(self, msg: Msg) -> Delivery | str:
        headers = dict(msg.headers or {})
        try:
            data = json.loads(msg.data)
            if not isinstance(data, dict):
                return "payload is not a JSON object"
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return f"payload is not JSON: {exc}"
        mid = self.sub.message_id(msg.subject, data, headers)
        if not mid:
            return "message has no id to deduplicate by"
        return Delivery(msg.subject, data, headers, mid, msg.metadata.num_delivered)

    async def process(self, msgs: list[Msg]) -> None:
        good: list[tuple[Msg, Delivery]] = []
        for m in msgs:
            d = self._decode(m)
            if isinstance(d, str):
                await self._dead_letter(m, None, d)
            else:
                good.append((m, d))
                if d.num_delivered > 1 and self.metrics is not None:
                    self.metrics.redeliveries.labels(self.sub.name).inc()
        if not good:
            return
        if len(good) > 1:
            try:
                await self._handle_together(good)
                await asyncio.gather(*(m.ack() for m, _ in good))
                return
            except Exception:
                log.debug("batch of %d failed together; handling one by one", len(good))
        for m, d in good:
            await self._handle_one(m, d)

    async def _handle_together(self, items: list[tuple[Msg, Delivery]]) -> None:
        async with self._uow() as uow:
            fresh = await claim(uow.session, self.sub.name, [d.message_id for _, d in items])
            todo: list[Delivery] = []
            for _, d in items:
                if d.message_id in fresh:
                    fresh.discard(d.message_id)
                    todo.append(d)
            if todo:
                await self.sub.handle(todo, uow)
            await uow.commit()

    async def _handle_one(self, m: Msg, d: Delivery) -> None:
        token = correlation_id.set(d.data.get("correlationid") or d.message_id)
        try:
            async with self._uow() as uow:
                if await claim(uow.session, self.sub.name, [d.message_id]):
                    await self.sub.handle([d], uow)
                await uow.commit()
            await m.ack()
        except Poison as exc:
            await self._dead_letter(m, d, str(exc))
        except Exception as exc:
            if d.num_delivered >= self.sub.max_deliver:
                log.exception(
                    "giving up after %d deliveries",
                    d.num_delivered,
                    extra={"consumer": self.sub.name},
                )
                await self._dead_letter(m, d, f"{type(exc).__name__}: {exc}")
            else:
                delay = RETRY_DELAYS[min(d.num_delivered - 1, len(RETRY_DELAYS) - 1)]
                log.warning(
                    "handler failed (%s); retry in %.0fs",
                    exc,
                    delay,
                    extra={"consumer": self.sub.name, "event_id": d.message_id},
                )
                await m.nak(delay=delay)
        finally:
            correlation_id.reset(token)

    async def _dead_letter(self, m: Msg, d: Delivery | None, error: str) -> None:
        headers = {k: v for k, v in (m.headers or {}).items() if k.lower() != "authorization"}
        async with self._sessions() as session, session.begin():
            await session.execute(
                sa.insert(dead_letters).values(
                    consumer=self.sub.name,
                    subject=m.subject,
                    message_id=d.message_id if d else None,
                    payload=m.data,
                    headers=headers,
                    error=error[:2000],
                    deliveries=m.metadata.num_delivered,
                )
            )
        log.error(
            "dead-lettered: %s", error, extra={"consumer": self.sub.name, "subject": m.subject}
        )
        if self.metrics is not None:
            self.metrics.dead_letters.labels(self.sub.name).inc()
        with contextlib.suppress(Exception):
            await m.term()

    async def replay(self, dead_letter_id: int) -> bool:
        """Run the handler again on a stored dead letter; True when it succeeded."""
        async with self._sessions() as session:
            row = (
                await session.execute(
                    sa.select(dead_letters).where(dead_letters.c.id == dead_letter_id)
                )
            ).first()
        if row is None or row.consumer != self.sub.name:
            return False
        data = json.loads(row.payload)
        d = Delivery(row.subject, data, dict(row.headers), row.message_id or f"dl-{row.id}", 1)
        async with self._uow() as uow:
            if await claim(uow.session, self.sub.name, [d.message_id]):
                await self.sub.handle([d], uow)
            await uow.session.execute(
                sa.update(dead_letters)
                .where(dead_letters.c.id == row.id)
                .values(replayed_at=sa.func.now())
            )
            await uow.commit()
        return True
