"""Transactional outbox and its relay.

An event row is written in the same transaction as the change it reports; the
relay publishes it to JetStream with ``Nats-Msg-Id`` = event id and marks it sent
only after the PubAck. A crash between publish and mark re-publishes the same id,
which JetStream's dedupe window (and every consumer's inbox) drops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import sqlalchemy as sa
from nats.js.client import JetStreamContext
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.contracts.event_data import EVENT_DATA
from shared.contracts.events import CloudEvent
from shared.db import lost_as_sqlalchemy
from shared.logs import correlation_id
from shared.messaging.tables import outbox
from shared.tracing import current_traceparent, traceparent_in

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutboxEvent:
    subject: str
    event: CloudEvent


def make_event(
    source: str, subject: str, data: dict[str, Any] | BaseModel, *, key: str | None = None
) -> OutboxEvent:
    """An event for ``subject`` (``events.<service>.<resource>.<past-tense>``). Its data
    is the subject's contract model (:data:`shared.contracts.event_data.EVENT_DATA`,
    the one consumers parse with) or a dict that model accepts: an event that breaks
    its own contract raises here, in the producer's transaction, instead of being
    dead-lettered by every consumer."""
    contract = EVENT_DATA.get(subject)
    if isinstance(data, BaseModel):
        if contract is not None and not isinstance(data, contract):
            raise TypeError(f"{subject}: data is {type(data).__name__}, not {contract.__name__}")
        data = data.model_dump(mode="json")
    elif contract is not None:
        contract.model_validate(data)
    type_ = subject.removeprefix("events.")
    # the CloudEvents distributed-tracing extension (shared.tracing); only when tracing
    traceparent = current_traceparent()
    extensions = {"traceparent": traceparent} if traceparent else {}
    return OutboxEvent(
        subject=subject,
        event=CloudEvent(
            source=source,
            type=type_,
            subject=key,
            data=data,
            correlationid=correlation_id.get(),
            **extensions,
        ),
    )


_INSERT_EVENTS = (
    "INSERT INTO outbox (event_id, subject, payload)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[])"
)


async def write_events(session: AsyncSession, events: Sequence[OutboxEvent]) -> None:
    """The events as outbox rows in the session's open transaction, in one statement
    (one array per column, ``unnest`` into rows), sent by asyncpg itself on the
    session's connection: one round trip however many events, no statement per row.
    Before anything began the transaction, SQLAlchemy sends it (and begins it)."""
    if not events:
        return
    ids = [e.event.id for e in events]
    subjects = [e.subject for e in events]
    payloads = [e.event.model_dump_json(exclude_none=True).encode() for e in events]
    conn = await session.connection()
    pg = (await conn.get_raw_connection()).driver_connection
    if not isinstance(pg, asyncpg.Connection) or not pg.is_in_transaction():
        await conn.execute(
            sa.insert(outbox),
            [
                {"event_id": i, "subject": s, "payload": p}
                for i, s, p in zip(ids, subjects, payloads, strict=True)
            ],
        )
        return
    async with lost_as_sqlalchemy(conn, _INSERT_EVENTS):
        await pg.execute(_INSERT_EVENTS, ids, subjects, payloads)


_MARK_PUBLISHED = sa.text(
    "UPDATE outbox SET published_at = now() WHERE seq = ANY(CAST(:seqs AS bigint[]))"
)


def _headers(event_id: str, payload: bytes) -> dict[str, str]:
    headers = {"Nats-Msg-Id": event_id, "Content-Type": "application/json"}
    traceparent = traceparent_in(payload)  # the event's own (shared.tracing)
    if traceparent:
        headers["traceparent"] = traceparent
    return headers


class OutboxRelay:
    """Publishes committed outbox rows; several replicas share the work (SKIP LOCKED)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        js: JetStreamContext,
        *,
        batch: int = 500,
        poll_interval: float = 1.0,
        retention: timedelta = timedelta(hours=24),
        ack_timeout: float = 5.0,
    ) -> None:
        self._sessions = sessions
        self._ack_timeout = ack_timeout
        self._js = js
        self._batch = batch
        self._poll = poll_interval
        self._retention = retention
        self._wake = asyncio.Event()
        self._last_prune = datetime.min.replace(tzinfo=UTC)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            # cleared before the round, not after it: a commit that wakes the relay while
            # it publishes is not lost (it waited up to ``poll_interval`` otherwise)
            self._wake.clear()
            try:
                published = await self.publish_pending()
                await self._maybe_prune()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay failed; retrying")
                published = 0
                await asyncio.sleep(self._poll)
            if published < self._batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll)

    async def publish_pending(self) -> int:
        async with self._sessions() as session, session.begin():
            rows = (
                await session.execute(
                    sa.select(outbox.c.seq, outbox.c.event_id, outbox.c.subject, outbox.c.payload)
                    .where(outbox.c.published_at.is_(None))
                    .order_by(outbox.c.seq)
                    .limit(self._batch)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            results = await self._publish(rows)
            done = [r.seq for r, res in zip(rows, results, strict=True) if res is None]
            failed = len(rows) - len(done)
            if failed:
                first = next(res for res in results if res is not None)
                log.warning(
                    "outbox: %d of %d events not acknowledged: %r", failed, len(rows), first
                )
            if done:
                # one array parameter (not one parameter per row)
                await session.execute(_MARK_PUBLISHED, {"seqs": done})
            return len(done) if not failed else 0

    async def _publish(self, rows: Sequence[Any]) -> list[BaseException | None]:
        """Every row published with JetStream's asynchronous publish (one reply
        subscription for all, no request and timer per message); per row, None once its
        PubAck came within ``ack_timeout``, else what went wrong."""
        futures: list[asyncio.Future[Any]] = []
        try:
            for r in rows:
                headers = _headers(r.event_id, r.payload)
                futures.append(await self._js.publish_async(r.subject, r.payload, headers=headers))
            if futures:
                await asyncio.wait(futures, timeout=self._ack_timeout)
        finally:
            for f in futures:
                f.cancel()  # those still waiting: not acknowledged (a done one stays done)
        return [TimeoutError("no PubAck") if f.cancelled() else f.exception() for f in futures]

    async def _maybe_prune(self) -> None:
        now = datetime.now(UTC)
        if now - self._last_prune < timedelta(minutes=10):
            return
        self._last_prune = now
        async with self._sessions() as session, session.begin():
            await session.execute(
                sa.delete(outbox).where(
                    outbox.c.published_at.is_not(None),
                    outbox.c.published_at < now - self._retention,
                )
            )
