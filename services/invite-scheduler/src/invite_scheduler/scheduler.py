"""The durable scheduler: due invites live in the database; every replica claims
batches with ``FOR UPDATE SKIP LOCKED`` under a lease, mails them concurrently and
records the outcome.

Wake-up: after each round the loop sleeps until the next due time (asked of the
database, so clocks of replicas do not matter), at most ``idle_poll_seconds``, or
until a command or event in this process creates something due (``wake()``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from shared.ids import new_id

from invite_scheduler import domain as d
from invite_scheduler import handlers as h
from invite_scheduler.config import InviteSchedulerConfig
from invite_scheduler.ports import Mailer, UnitOfWork

log = logging.getLogger(__name__)

UowFactory = Callable[[], UnitOfWork]
FLUSH_EVERY = 50


class Dispatcher:
    def __init__(self, config: InviteSchedulerConfig, uow: UowFactory, mailer: Mailer) -> None:
        self.config = config
        self._uow = uow
        self.mailer = mailer
        self._wake = asyncio.Event()
        self.paused = not config.scheduler_enabled
        self.sent_count = 0

    def wake(self) -> None:
        self._wake.set()

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False
        self._wake.set()

    async def run(self) -> None:
        try:
            while True:
                delay = self.config.idle_poll_seconds
                if not self.paused:
                    try:
                        if await self.run_once() >= self.config.claim_batch:
                            continue
                        nxt = await h.seconds_to_next_due(self._uow())
                        if nxt is not None:
                            delay = min(delay, max(nxt, 0.02))
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        log.exception("scheduler round failed")
                        delay = 1.0
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
        finally:
            await self.mailer.close()

    async def run_once(self) -> int:
        """Claim one batch of due invites and mail it; the number claimed."""
        lease_id = new_id("lease")
        claimed = await h.claim_due(
            self._uow(),
            limit=self.config.claim_batch,
            lease_seconds=self.config.send_lease_seconds,
            lease_id=lease_id,
        )
        if claimed:
            await self._deliver(claimed, lease_id)
        return len(claimed)

    async def _deliver(self, claimed: list[h.Claimed], lease_id: str) -> None:
        sem = asyncio.Semaphore(self.config.send_concurrency)
        outcomes: list[h.Outcome] = []
        untouched = {c.invite_id for c in claimed}

        async def flush() -> None:
            batch = outcomes[:]
            outcomes.clear()
            if batch:
                await h.record_outcomes(
                    self._uow(),
                    batch,
                    lease_id=lease_id,
                    ttl_seconds=self.config.invite_ttl_seconds,
                    max_attempts=self.config.max_attempts,
                    retry_delays=self.config.retry_delays,
                )

        async def one(c: h.Claimed) -> None:
            async with sem:
                untouched.discard(c.invite_id)
                outcomes.append(await self._send(c))
            if len(outcomes) >= FLUSH_EVERY:
                await flush()

        try:
            await asyncio.gather(*(one(c) for c in claimed))
            await flush()
        finally:
            if untouched or outcomes:
                # stopped mid-batch: record what went out, hand back what never started
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._give_back(flush, list(untouched), lease_id))

    async def _give_back(self, flush: Callable[[], object], ids: list[str], lease_id: str) -> None:
        result = flush()
        if asyncio.iscoroutine(result):
            await result
        if ids:
            await h.release(self._uow(), ids, lease_id)

    async def _send(self, c: h.Claimed) -> h.Outcome:
        token = d.new_token()
        expires = datetime.now(UTC) + timedelta(seconds=self.config.invite_ttl_seconds)
        mail = d.welcome_email(
            to=c.email,
            first_name=c.first_name,
            last_name=c.last_name,
            account_name=c.account_name or "Your company",
            link=d.activation_link(self.config.invite_link_base_url, token),
            expires_at=expires,
            product=self.config.product_name,
        )
        try:
            await self.mailer.send(mail, message_id=f"<{c.invite_id}.{c.attempts}@invites>")
        except d.DeliveryFailed as exc:
            log.warning(
                "invite %s not delivered (attempt %d): %s", c.invite_id, c.attempts, exc.reason
            )
            return h.Outcome(c.invite_id, c.attempts, error=exc)
        self.sent_count += 1
        return h.Outcome(c.invite_id, c.attempts, token_hash=d.hash_token(token))


async def sweep_expired(uow: UowFactory, interval: float) -> None:
    while True:
        try:
            while await h.expire_due(uow()) > 0:
                pass
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("expiry sweep failed")
        await asyncio.sleep(interval)
