"""Durable JetStream consumers: explicit ack, inbox dedupe, delayed retry, dead letters.

Policy, per subscription:
- a message is handled in one database transaction together with its inbox row;
  it is acked only after that commit, so nothing acknowledged is lost and a
  redelivery changes nothing;
- a **transient** fault (:func:`is_transient`: the database or the broker
  unreachable, a timeout, a called service ``unavailable``, :class:`Transient`) is
  retried for ever with a delay that grows to a cap (``NAK`` with delay; the
  JetStream consumer has no ``max_deliver``): an outage of any length stops
  progress and resumes it afterwards, nothing is given up;
- a :class:`Poison` error (or a payload that does not parse) goes to the
  ``dead_letters`` table at once;
- any other error is retried with the same delays; after ``max_deliver`` such
  failures *with the database answering* the message is poison and is
  dead-lettered too;
- a message is terminated only after its dead-letter row has committed: if that
  insert fails the message is ``NAK``-ed with a delay and tried again later, so
  dead-lettering never depends on the component that is failing;
- dead letters keep no secret (:mod:`shared.messaging.redaction`);
- an operator lists and replays dead letters over ``<service>.v1.dead_letters.*``;
- while a consumer retries transient faults it reports itself ``stalled``
  (:attr:`ConsumerRunner.stalled`), which makes the service's health ``degraded``.

Consumers wait for a stream they do not own to appear instead of creating it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import nats.errors
import sqlalchemy as sa
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import UnitOfWork
from shared.faults import Transient, is_transient
from shared.logs import correlation_id
from shared.messaging.inbox import claim
from shared.messaging.redaction import redact_headers, redact_payload, redact_text
from shared.messaging.subscription import (
    Delivery,
    Poison,
    Subscription,
)
from shared.messaging.tables import dead_letters
from shared.observability import Metrics

log = logging.getLogger(__name__)

# headers a dead letter keeps about its origin (none of them a secret)
ORIGIN_STREAM = "X-Dead-Letter-Stream"
ORIGIN_SEQ = "X-Dead-Letter-Sequence"
REDACTED = "X-Dead-Letter-Redacted"


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


__all__ = ["Delivery", "Poison", "Subscription", "Transient", "is_transient"]


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
        self._failures: dict[str, int] = {}  # message id -> non-transient failures here
        self.stalled_since: float | None = None  # monotonic time of the first transient fault
        self.last_fault = ""
        self._last_fault_at = 0.0
        self.metrics: Metrics | None = None  # set by the Service (shared.observability)

    def stop(self) -> None:
        """Finish the batch in hand, then leave the loop."""
        self.stopped = True

    # --- health ---------------------------------------------------------------
    @property
    def stalled(self) -> str | None:
        """Why this consumer cannot make progress (a transient fault it keeps
        retrying), or None. Cleared by the next message it handles, or once no retry
        has failed for longer than the longest retry delay (another replica took it)."""
        if self.stalled_since is None:
            return None
        now = time.monotonic()
        if now - self._last_fault_at > max(self.sub.retry_delays) * 2 + 5.0:
            self.stalled_since = None
            return None
        return f"retrying a transient fault for {now - self.stalled_since:.0f}s: {self.last_fault}"

    def _fault(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self.stalled_since is None:
            self.stalled_since = now
        self._last_fault_at = now
        self.last_fault = redact_text(f"{type(exc).__name__}: {exc}")[:300]

    def _progress(self) -> None:
        self.stalled_since = None

    def _delay(self, attempt: int) -> float:
        delays = self.sub.retry_delays
        return delays[min(max(attempt, 1) - 1, len(delays) - 1)]

    async def _subscribe(self) -> Any:
        cfg = ConsumerConfig(
            durable_name=self.sub.name,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.sub.ack_wait,
            # unlimited: a transient fault is retried for as long as it lasts; poison
            # is decided here (``Subscription.max_deliver``) and dead-lettered
            max_deliver=-1,
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
        """Create the durable consumer, or bring what the code owns up to date (filter
        subjects, unlimited deliveries); a tunable an operator changed (ack wait, max
        ack pending) is kept, with a warning naming the difference."""
        try:
            info = await self._js.consumer_info(self.sub.stream, self.sub.name)
        except NotFoundError:
            await self._js.add_consumer(self.sub.stream, cfg)
        else:
            have = info.config
            owned = {
                "filter_subjects": sorted(have.filter_subjects or [])
                != sorted(cfg.filter_subjects or [])
                or bool(have.filter_subject),
                "max_deliver": (have.max_deliver or -1) != cfg.max_deliver,
            }
            update = dataclasses.replace(have, filter_subject=None)
            for name in ("ack_wait", "max_ack_pending"):
                if getattr(have, name) is not None and getattr(have, name) != getattr(cfg, name):
                    log.warning(
                        "consumer %s: %s is %s on the server, the default is %s; kept",
                        self.sub.name,
                        name,
                        getattr(have, name),
                        getattr(cfg, name),
                    )
            if any(owned.values()):
                update.filter_subjects = cfg.filter_subjects
                update.max_deliver = cfg.max_deliver
                await self._js.add_consumer(self.sub.stream, update)  # updates in place
                log.info(
                    "consumer %s updated: %s",
                    self.sub.name,
                    ", ".join(k for k, v in owned.items() if v),
                )
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
        except RecursionError:
            return "payload is nested too deeply"
        mid = self.sub.message_id(msg.subject, data, headers)
        if not mid:
            return "message has no id to deduplicate by"
        return Delivery(
            msg.subject, data, headers, mid, msg.metadata.num_delivered, msg.metadata.timestamp
        )

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
            except Exception as exc:
                if is_transient(exc):
                    # the database (or a dependency) is down: one by one would only
                    # fail the same way, once per message
                    self._fault(exc)
                    self._log_retry(exc, good[0][1], len(good))
                    await asyncio.gather(
                        *(self._nak(m, self._delay(d.num_delivered)) for m, d in good)
                    )
                    return
                log.debug("batch of %d failed together; handling one by one", len(good))
            else:
                await asyncio.gather(*(m.ack() for m, _ in good))
                self._progress()
                for _, d in good:
                    self._failures.pop(d.message_id, None)
                return
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

    async def _nak(self, m: Msg, delay: float) -> None:
        with contextlib.suppress(Exception):  # unacked, it comes back after ack_wait anyway
            await m.nak(delay=delay)

    def _log_retry(self, exc: BaseException, d: Delivery, n: int = 1) -> None:
        log.warning(
            "transient fault (%s: %s); %d message(s) retried in %.1fs",
            type(exc).__name__,
            redact_text(str(exc))[:300],
            n,
            self._delay(d.num_delivered),
            extra={"consumer": self.sub.name, "event_id": d.message_id},
        )

    async def _database_answers(self) -> bool:
        try:
            async with self._sessions() as s:
                await asyncio.wait_for(s.execute(sa.text("SELECT 1")), 5.0)
            return True
        except Exception:
            return False

    async def _handle_one(self, m: Msg, d: Delivery) -> None:
        token = correlation_id.set(d.data.get("correlationid") or d.message_id)
        try:
            async with self._uow() as uow:
                if await claim(uow.session, self.sub.name, [d.message_id]):
                    await self.sub.handle([d], uow)
                await uow.commit()
            await m.ack()
            self._failures.pop(d.message_id, None)
            self._progress()
        except Poison as exc:
            await self._dead_letter(m, d, str(exc))
        except Exception as exc:
            if is_transient(exc):
                self._fault(exc)
                self._log_retry(exc, d)
                await self._nak(m, self._delay(d.num_delivered))
                return
            failures = self._failures.get(d.message_id, 0) + 1
            if failures >= (self.sub.max_deliver or 10) and await self._database_answers():
                # it fails the same way with the database up: the message is bad
                log.error(
                    "failed %d times with the database up: poison",
                    failures,
                    extra={"consumer": self.sub.name, "event_id": d.message_id},
                )
                await self._dead_letter(m, d, f"{type(exc).__name__}: {exc}")
                return
            if len(self._failures) > 10_000:
                self._failures.clear()  # a bound, not a cache: forgetting only adds retries
            self._failures[d.message_id] = failures
            log.warning(
                "handler failed (%s); retry in %.1fs",
                redact_text(str(exc))[:300],
                self._delay(failures),
                extra={"consumer": self.sub.name, "event_id": d.message_id},
            )
            await self._nak(m, self._delay(failures))
        finally:
            correlation_id.reset(token)

    async def _dead_letter(self, m: Msg, d: Delivery | None, error: str) -> None:
        """Store the message (secrets redacted), then terminate it: never the other
        way round. If the row cannot be written, the message comes back later."""
        payload, secrets = redact_payload(m.data)
        headers = redact_headers(dict(m.headers or {}))
        # where the original is: a replay of a redacted message reads it from the stream
        headers[ORIGIN_STREAM] = m.metadata.stream
        headers[ORIGIN_SEQ] = str(m.metadata.sequence.stream)
        if secrets:
            headers[REDACTED] = "1"
        clean_error = redact_text(error, secrets)[:2000]
        try:
            stored_before = await self._store_dead_letter(m, d, payload, headers, clean_error)
        except Exception as exc:
            self._fault(exc)
            delay = self._delay(m.metadata.num_delivered)
            log.warning(
                "cannot store dead letter (%s); retry in %.1fs",
                type(exc).__name__,
                delay,
                extra={"consumer": self.sub.name, "subject": m.subject},
            )
            await self._nak(m, delay)
            return
        if stored_before:  # but the term did not reach the server
            log.info("already dead-lettered", extra={"consumer": self.sub.name})
        else:
            if d is not None:
                self._failures.pop(d.message_id, None)
            log.error(
                "dead-lettered: %s",
                clean_error,
                extra={"consumer": self.sub.name, "subject": m.subject},
            )
            if self.metrics is not None:
                self.metrics.dead_letters.labels(self.sub.name).inc()
        with contextlib.suppress(Exception):
            await m.term()

    async def _store_dead_letter(
        self, m: Msg, d: Delivery | None, payload: Any, headers: dict[str, str], error: str
    ) -> bool:
        """Insert the dead-letter row; True when an unreplayed one was stored before."""
        async with self._sessions() as session, session.begin():
            if d is not None:
                q = sa.select(dead_letters.c.id).where(
                    dead_letters.c.consumer == self.sub.name,
                    dead_letters.c.message_id == d.message_id,
                    dead_letters.c.replayed_at.is_(None),
                )
                if (await session.execute(q)).first():
                    return True
            await session.execute(
                sa.insert(dead_letters).values(
                    consumer=self.sub.name,
                    subject=m.subject,
                    message_id=d.message_id if d else None,
                    payload=payload,
                    headers=headers,
                    error=error,
                    deliveries=m.metadata.num_delivered,
                )
            )
        return False

    async def replay(self, dead_letter_id: int) -> tuple[bool, str | None]:
        """Run the handler again on a stored dead letter: (True, None) when it
        succeeded, else (False, why) and the dead letter stays. A transient fault
        (the database down) is raised: the caller is told to try again later."""
        async with self._sessions() as session:
            row = (
                await session.execute(
                    sa.select(dead_letters).where(dead_letters.c.id == dead_letter_id)
                )
            ).first()
        if row is None or row.consumer != self.sub.name:
            return False, "no such dead letter for this consumer"
        headers = dict(row.headers)
        raw = row.payload
        if headers.get(REDACTED):
            # the stored copy has its secrets masked: replay the original from the stream
            try:
                original = await self._js.get_msg(headers[ORIGIN_STREAM], int(headers[ORIGIN_SEQ]))
            except Exception:
                log.warning(
                    "dead letter %d: its original is no longer in the stream", dead_letter_id
                )
                return False, "its original is no longer in the stream"
            raw = original.data or b""
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            return False, "payload is not JSON"
        if not isinstance(data, dict):
            return False, "payload is not a JSON object"
        for h in (ORIGIN_STREAM, ORIGIN_SEQ, REDACTED):
            headers.pop(h, None)
        d = Delivery(row.subject, data, headers, row.message_id or f"dl-{row.id}", 1)
        try:
            async with self._uow() as uow:
                if await claim(uow.session, self.sub.name, [d.message_id]):
                    await self.sub.handle([d], uow)
                await uow.session.execute(
                    sa.update(dead_letters)
                    .where(dead_letters.c.id == row.id)
                    .values(replayed_at=sa.func.now())
                )
                await uow.commit()
        except Exception as exc:
            if is_transient(exc):
                raise
            why = redact_text(f"{type(exc).__name__}: {exc}")[:300]
            log.warning("dead letter %d failed again on replay: %s", dead_letter_id, why)
            return False, why
        return True, None
