"""The durable scheduler: due invites live in the database; every replica claims
batches with ``FOR UPDATE SKIP LOCKED`` under a lease (recording each invite's token
hash in the same transaction), mails them concurrently and records each outcome as
soon as the SMTP server has answered, before its sending slot takes another mail.

Exactly once, as far as SMTP allows: a crash can lose only the records of mails in
flight (at most ``send_concurrency``); they are mailed again after the lease, with the
same link (the token is derived from the invite and its send generation) and the same
``Message-ID``.

Wake-up: after each round the loop sleeps until the next due time (asked of the
database, so clocks of replicas do not matter), at most ``idle_poll_seconds``, or
until a command or event in this process creates something due (``wake()``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable

from shared.ids import new_id

from invite_scheduler import domain as d
from invite_scheduler import handlers as h
from invite_scheduler.config import InviteSchedulerConfig
from invite_scheduler.ports import Mailer, UnitOfWork

log = logging.getLogger(__name__)

UowFactory = Callable[[], UnitOfWork]
RECORD_TRIES = (0.2, 1.0, 3.0)  # pauses between tries to record one outcome


def token_key(config: InviteSchedulerConfig) -> bytes:
    if config.invite_token_secret:
        return config.invite_token_secret.encode()
    if config.internal_key:
        return hmac.new(config.internal_key.encode(), b"invite-token-key", hashlib.sha256).digest()
    log.warning(
        "neither INVITE_TOKEN_SECRET nor INTERNAL_KEY is set: a mail re-sent after a"
        " restart carries a new link (the first one keeps working)"
    )
    return secrets.token_bytes(32)


Commit = Callable[[list[h.Outcome], str], Awaitable[None]]


class GroupCommit:
    """Each outcome recorded as soon as the SMTP server has answered, in its own
    transaction or in one with the outcomes that arrived while the previous one was
    being committed (group commit): :meth:`record` returns once its own outcome is
    committed (raises if that transaction failed), so a sending slot still takes no
    other mail before its outcome is recorded; only fewer round trips are made."""

    def __init__(self, commit: Commit) -> None:
        self._commit = commit
        self._waiting: list[tuple[h.Outcome, str, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def record(self, outcome: h.Outcome, lease_id: str) -> None:
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((outcome, lease_id, done))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        await done

    async def _run(self) -> None:
        group: list[tuple[h.Outcome, str, asyncio.Future[None]]] = []
        try:
            while self._waiting:
                group, self._waiting = self._waiting, []
                for lease_id in dict.fromkeys(lease for _, lease, _ in group):
                    await self._commit_one_lease(
                        [(o, f) for o, lease, f in group if lease == lease_id], lease_id
                    )
        finally:
            for _, _, f in (*group, *self._waiting):
                f.cancel()  # stopped: nothing more is recorded (no-op on a settled one)
            self._waiting = []

    async def _commit_one_lease(
        self, items: list[tuple[h.Outcome, asyncio.Future[None]]], lease_id: str
    ) -> None:
        try:
            await self._commit([o for o, _ in items], lease_id)
        except Exception as exc:
            for _, f in items:
                if not f.done():
                    f.set_exception(exc)
        else:
            for _, f in items:
                if not f.done():
                    f.set_result(None)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


class Dispatcher:
    def __init__(self, config: InviteSchedulerConfig, uow: UowFactory, mailer: Mailer) -> None:
        self.config = config
        self._uow = uow
        self.mailer = mailer
        self._wake = asyncio.Event()
        self.paused = not config.scheduler_enabled
        self.sent_count = 0
        self._token_key = token_key(config)
        self._recorder = GroupCommit(self._commit)
        # shared by every batch in flight: at most this many mails unrecorded at a crash
        self._slots = asyncio.Semaphore(config.send_concurrency)
        self._batches: set[asyncio.Task[None]] = set()  # being mailed

    @property
    def token_key(self) -> bytes:
        return self._token_key

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
                self._wake.clear()  # before the round: a wake during it is not lost
                if not self.paused:
                    try:
                        if await self._round() >= self.config.claim_batch:
                            continue
                        nxt = await self.next_due()
                        if nxt is not None:
                            delay = min(delay, max(nxt, 0.02))
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        log.exception("scheduler round failed")
                        delay = 1.0
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
        finally:
            for batch in self._batches:
                batch.cancel()  # each hands back what it never started
            await asyncio.gather(*self._batches, return_exceptions=True)
            self._recorder.stop()
            await self.mailer.close()

    async def next_due(self) -> float | None:
        """Seconds until the next item of this dispatcher's queue is due (None: none)."""
        return await h.seconds_to_next_due(self._uow())

    async def run_once(self) -> int:
        """Claim one batch of due invites and mail it; the number claimed."""
        claimed, lease_id, deadline = await self._claim()
        if claimed:
            await self._deliver(claimed, lease_id, deadline)
        return len(claimed)

    async def _round(self) -> int:
        """Claim one batch and start mailing it; the number claimed. Returns once every
        mail of the batch has a sending slot (or the batch ended), so the next claim
        overlaps the batch's last mails instead of waiting for them (the slots are
        shared: no more mails in flight than ``send_concurrency``)."""
        claimed, lease_id, deadline = await self._claim()
        if not claimed:
            return 0
        all_started = asyncio.Event()
        batch = asyncio.create_task(self._deliver(claimed, lease_id, deadline, all_started))
        self._batches.add(batch)
        batch.add_done_callback(self._batch_done)
        started = asyncio.create_task(all_started.wait())
        try:
            await asyncio.wait((batch, started), return_when=asyncio.FIRST_COMPLETED)
        finally:
            started.cancel()
        if batch.done():
            batch.result()  # its failure is this round's
        return len(claimed)

    def _batch_done(self, batch: asyncio.Task[None]) -> None:
        self._batches.discard(batch)
        if not batch.cancelled() and batch.exception() is not None:
            log.error("scheduler batch failed", exc_info=batch.exception())

    async def _claim(self) -> tuple[list[h.Claimed], str, float]:
        lease_id = new_id("lease")
        # no mail of this batch starts once most of its lease is gone: another replica
        # may claim it after the lease, and must not find it in flight here
        deadline = asyncio.get_running_loop().time() + self.config.send_lease_seconds * 0.8
        claimed = await h.claim_due(
            self._uow(),
            limit=self.config.claim_batch,
            lease_seconds=self.config.send_lease_seconds,
            lease_id=lease_id,
            token_key=self._token_key,
            ttl_seconds=self.config.invite_ttl_seconds,
        )
        return claimed, lease_id, deadline

    async def _deliver(
        self,
        claimed: list[h.Claimed],
        lease_id: str,
        deadline: float,
        all_started: asyncio.Event | None = None,
    ) -> None:
        untouched = {c.invite_id for c in claimed}
        stuck: list[str] = []  # an outcome could not be recorded: stop sending

        async def one(c: h.Claimed) -> None:
            async with self._slots:
                if stuck or asyncio.get_running_loop().time() > deadline:
                    return  # handed back below (or, if that fails, mailed after the lease)
                untouched.discard(c.invite_id)
                if not untouched and all_started is not None:
                    all_started.set()
                outcome = await self._send(c)
                # recorded before this slot takes another mail: unrecorded mails are at
                # most the ones in flight
                if not await self._record(outcome, lease_id):
                    stuck.append(outcome.invite_id)

        try:
            await asyncio.gather(*(one(c) for c in claimed))
        finally:
            if untouched:
                # stopped, stuck or out of lease mid-batch: hand back what never started
                with contextlib.suppress(Exception):
                    await asyncio.shield(h.release(self._uow(), list(untouched), lease_id))

    async def _record(self, outcome: h.Outcome, lease_id: str) -> bool:
        for pause in (*RECORD_TRIES, None):
            try:
                await self._recorder.record(outcome, lease_id)
                return True
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if pause is None:
                    log.error(
                        "invite %s: outcome not recorded (%s); it is mailed again after its"
                        " lease, with the same link",
                        outcome.invite_id,
                        type(exc).__name__,
                    )
                    return False
                await asyncio.sleep(pause)
        return False

    async def _commit(self, outcomes: list[h.Outcome], lease_id: str) -> None:
        await h.record_outcomes(
            self._uow(),
            outcomes,
            lease_id=lease_id,
            ttl_seconds=self.config.invite_ttl_seconds,
            max_attempts=self.config.max_attempts,
            retry_delays=self.config.retry_delays,
        )

    async def _send(self, c: h.Claimed) -> h.Outcome:
        assert c.expires_at is not None
        mail = d.welcome_email(
            to=c.email,
            first_name=c.first_name,
            last_name=c.last_name,
            account_name=c.account_name or "Your company",
            link=d.activation_link(self.config.invite_link_base_url, c.token),
            expires_at=c.expires_at,
            product=self.config.product_name,
            language=c.language,
            time_zone=c.time_zone,
        )
        try:
            await self.mailer.send(
                mail, message_id=d.message_id(c.invite_id, c.generation, self.config.mail_from)
            )
        except d.DeliveryFailed as exc:
            log.warning(
                "invite %s not delivered (attempt %d): %s", c.invite_id, c.attempts, exc.reason
            )
            return h.Outcome(c.invite_id, c.attempts, error=exc)
        self.sent_count += 1
        return h.Outcome(c.invite_id, c.attempts, sent=True)


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
