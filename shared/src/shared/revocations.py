"""Revoked sessions, known to every service within a second.

A JetStream key-value bucket, ``REVOCATIONS`` (history 1, entries expire after
``MAX_AGE_SECONDS``, longer than any session lives), holds one key per thing that
ended sessions:

- ``user.<user_id>``: ``{"min_version": v}``; written by identity when the user is
  disabled, removed, demoted or its password changed or reset. A token whose
  ``uv`` (the user's row version when the session opened) is below ``v`` is refused.
- ``session.<jti>``: ``{"revoked": true}``; written by identity on logout.
- ``account.<account_id>``: ``{"before_ms": t, "blocked": b}``; written by account
  whenever the account's status changes. A token for that account issued (``iat_ms``)
  before ``t`` is refused, and every token for it while ``blocked`` (Suspended or
  Closed).
- ``link.<portal_id>.<account_id>``: ``{"before_ms": t}``; written by account on
  unlink. A session switched into that account through that portal and issued
  before ``t`` is refused.
- ``heartbeat.<service>.<instance>``: written every ``HEARTBEAT_SECONDS`` by every
  service instance, for itself (see below).

Writers put revocations through their transactional outbox (the KV subject is
``$KV.REVOCATIONS.<key>``), so a committed change always revokes, even if NATS was
down at commit time. Values are CloudEvent envelopes; the fields above are in
``data``.

Every service runs a :class:`RevocationWatcher`: a KV watch (an ordered push
consumer) that keeps the keys in memory; :class:`shared.auth.TokenVerifier` asks it
after the signature check, for cached tokens too. The watcher knows how fresh it is
by its own heartbeat: it puts ``heartbeat.<service>.<instance>`` and, when that put
comes back through the watch, every revocation stored before it has been applied
(the stream delivers in order). When a heartbeat has been on its way for more than
``max_lag`` seconds, or none came back for ``SILENCE_SECONDS`` (watch not started,
connection down, consumer stalled), the service refuses every token with
``unauthenticated`` rather than trusting it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
import uuid
from typing import Any

import nats.errors
import nats.js.errors
from nats.js.api import KeyValueConfig, StorageType
from nats.js.client import JetStreamContext
from nats.js.kv import KeyValue

from shared import subjects as s
from shared.auth import Principal
from shared.contracts.events import CloudEvent
from shared.errors import Unauthenticated
from shared.logs import correlation_id
from shared.messaging.outbox import OutboxEvent

log = logging.getLogger(__name__)

BUCKET = s.REVOCATIONS_BUCKET
KV_SUBJECT_PREFIX = f"$KV.{BUCKET}."
#: entries expire after this: above identity's longest allowed session TTL (24 h)
MAX_AGE_SECONDS = 25 * 3600
HEARTBEAT_SECONDS = 0.2
#: a watch whose own heartbeats stop coming back for this long is started again
RESTART_AFTER_SECONDS = 3.0
#: no own heartbeat back for this long: not caught up, whatever is in flight
SILENCE_SECONDS = 5.0
#: the clock task ticks this often; a tick later than ``STALL_SLACK_SECONDS`` means
#: the process itself did not run (its event loop was blocked), time that is not
#: counted as falling behind; one gap counts for at most ``MAX_STALL_SECONDS``
TICK_SECONDS = 0.1
STALL_SLACK_SECONDS = 0.25
MAX_STALL_SECONDS = 10.0
REVOKED = "The session has been revoked; sign in again."
NOT_CAUGHT_UP = "Sessions cannot be checked right now (revocations are not up to date); try again."

_KEY_PART = re.compile(r"^[-_=a-zA-Z0-9]+$")


def _part(value: str) -> str:
    if not _KEY_PART.match(value):
        raise ValueError(f"not usable in a revocation key: {value!r}")
    return value


def user_key(user_id: str) -> str:
    return f"user.{_part(user_id)}"


def session_key(jti: str) -> str:
    return f"session.{_part(jti)}"


def account_key(account_id: str) -> str:
    return f"account.{_part(account_id)}"


def link_key(portal_id: str, account_id: str) -> str:
    return f"link.{_part(portal_id)}.{_part(account_id)}"


def heartbeat_key(service: str, instance: str) -> str:
    return f"heartbeat.{_part(service)}.{_part(instance)}"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def revocation(source: str, key: str, data: dict[str, Any]) -> OutboxEvent:
    """An outbox row that puts ``key`` in the bucket when the transaction commits."""
    return OutboxEvent(
        subject=KV_SUBJECT_PREFIX + key,
        event=CloudEvent(
            source=source,
            type=f"revocation.{key.split('.', 1)[0]}",
            subject=key,
            data=data,
            correlationid=correlation_id.get(),
        ),
    )


def revoke_user(source: str, user_id: str, min_version: int) -> OutboxEvent:
    """Sessions of ``user_id`` opened at a row version below ``min_version`` end."""
    return revocation(source, user_key(user_id), {"min_version": int(min_version)})


def revoke_session(source: str, jti: str) -> OutboxEvent:
    return revocation(source, session_key(jti), {"revoked": True})


def revoke_account(
    source: str, account_id: str, *, blocked: bool, at_ms: int | None = None
) -> OutboxEvent:
    """The account's status changed: sessions issued before end; while ``blocked``
    (not Active) no session of the account works at all."""
    data = {"before_ms": at_ms or now_ms(), "blocked": blocked}
    return revocation(source, account_key(account_id), data)


def revoke_link(
    source: str, portal_id: str, account_id: str, at_ms: int | None = None
) -> OutboxEvent:
    return revocation(source, link_key(portal_id, account_id), {"before_ms": at_ms or now_ms()})


def bucket_config() -> KeyValueConfig:
    return KeyValueConfig(
        bucket=BUCKET,
        description="revoked sessions (see shared/revocations.py)",
        history=1,
        ttl=MAX_AGE_SECONDS,
        storage=StorageType.FILE,
    )


class RevocationList:
    """The in-memory state: pure, so that it can be tested without NATS."""

    def __init__(self, max_lag: float = 1.0) -> None:
        self.max_lag = max_lag
        self.users: dict[str, int] = {}
        self.sessions: set[str] = set()
        self.accounts: dict[str, int] = {}
        self.blocked_accounts: set[str] = set()
        self.links: dict[tuple[str, str], int] = {}
        # monotonic time of the newest own heartbeat seen back through the watch
        self.fresh_as_of: float | None = None
        # own heartbeats put but not seen back yet: number -> running time of the put
        self.pending_beats: dict[int, float] = {}
        self._last_tick: float | None = None
        self._stalled = 0.0  # seconds the process did not run, in total

    # --- applying entries -----------------------------------------------------
    def apply(self, key: str, value: bytes | None) -> None:
        """One KV entry; ``value`` None for a delete, purge or expiry."""
        kind, _, rest = key.partition(".")
        data: dict[str, Any] = {}
        if value:
            try:
                body = json.loads(value)
                data = body.get("data", body) if isinstance(body, dict) else {}
            except (ValueError, UnicodeDecodeError):
                log.warning("revocations: unreadable value for %s", key)
                return
        if kind == "user":
            if value is None:
                self.users.pop(rest, None)
            elif isinstance(data.get("min_version"), int):
                self.users[rest] = max(self.users.get(rest, 0), data["min_version"])
        elif kind == "session":
            if value is None:
                self.sessions.discard(rest)
            else:
                self.sessions.add(rest)
        elif kind == "account":
            self._apply_account(rest, None if value is None else data)
        elif kind == "link":
            portal, _, account = rest.partition(".")
            ref = (portal, account)
            if value is None:
                self.links.pop(ref, None)
            elif isinstance(data.get("before_ms"), int):
                self.links[ref] = max(self.links.get(ref, 0), data["before_ms"])

    def _apply_account(self, account_id: str, data: dict[str, Any] | None) -> None:
        if data is None:
            self.accounts.pop(account_id, None)
            self.blocked_accounts.discard(account_id)
            return
        before = data.get("before_ms")
        if not isinstance(before, int):
            return
        if before >= self.accounts.get(account_id, 0):
            # the newest status change decides whether the account is blocked
            self.accounts[account_id] = before
            if data.get("blocked") is True:
                self.blocked_accounts.add(account_id)
            else:
                self.blocked_accounts.discard(account_id)

    # --- the running clock ------------------------------------------------------
    def tick(self, now: float) -> None:
        """Called every ``TICK_SECONDS`` by the clock task."""
        if self._last_tick is not None:
            self._stalled += self._gap(now)
        self._last_tick = now

    def _gap(self, now: float) -> float:
        if self._last_tick is None:
            return 0.0
        late = now - self._last_tick - TICK_SECONDS - STALL_SLACK_SECONDS
        return min(max(late, 0.0), MAX_STALL_SECONDS)

    def running_time(self, now: float) -> float:
        """Monotonic time minus the time this process did not run (a blocked event
        loop: it could neither apply revocations nor serve requests meanwhile)."""
        return now - self._stalled - self._gap(now)

    # --- heartbeats -------------------------------------------------------------
    def beat_sent(self, n: int, at: float) -> None:
        self.pending_beats[n] = self.running_time(at)
        if len(self.pending_beats) > 1000:  # a long outage: keep the oldest, bound the rest
            del self.pending_beats[list(self.pending_beats)[1]]

    def beat_seen(self, n: int) -> None:
        """Own heartbeat ``n`` came back: everything stored before it is applied."""
        sent = self.pending_beats.pop(n, None)
        for older in [k for k in self.pending_beats if k < n]:
            del self.pending_beats[older]
        if sent is not None and (self.fresh_as_of is None or sent > self.fresh_as_of):
            self.fresh_as_of = sent

    # --- checking -------------------------------------------------------------
    def caught_up(self, now: float | None = None) -> bool:
        """True while no heartbeat of ours has been on its way for longer than
        ``max_lag`` (and one came back in the last ``SILENCE_SECONDS``), in running
        time: a moment when this process itself did not run does not count as falling
        behind (when it resumes, the heartbeats and revocations that arrived meanwhile
        are applied in order)."""
        if self.fresh_as_of is None:
            return False
        now = self.running_time(time.monotonic() if now is None else now)
        if now - self.fresh_as_of > SILENCE_SECONDS:
            return False
        # numbers only grow, so the first one in flight is the oldest
        oldest = next(iter(self.pending_beats.values()), None)
        return oldest is None or now - oldest <= self.max_lag

    def revoked(self, p: Principal) -> bool:
        if p.token_id in self.sessions:
            return True
        floor = self.users.get(p.user_id)
        if floor is not None and (p.user_version is None or p.user_version < floor):
            return True
        if p.account_id is not None:
            if p.account_id in self.blocked_accounts:
                return True
            before = self.accounts.get(p.account_id)
            if before is not None and p.issued_at_ms < before:
                return True
            if p.portal_id is not None:
                before = self.links.get((p.portal_id, p.account_id))
                if before is not None and p.issued_at_ms < before:
                    return True
        return False

    def check(self, principal: Principal) -> None:
        if not self.caught_up():
            raise Unauthenticated(NOT_CAUGHT_UP, {"reason": "revocations_unknown"})
        if self.revoked(principal):
            raise Unauthenticated(REVOKED, {"reason": "revoked"})


class RevocationWatcher(RevocationList):
    """Keeps a :class:`RevocationList` up to date from the bucket, and proves it."""

    def __init__(self, service: str, max_lag: float = 1.0) -> None:
        super().__init__(max_lag)
        self.service = service
        self.instance = uuid.uuid4().hex[:16]
        self.beat_key = heartbeat_key(service, self.instance)
        self._beat_no = 0
        self.ready = asyncio.Event()  # set once caught up the first time

    async def bucket(self, js: JetStreamContext) -> KeyValue:
        """The bucket, created if missing (the same configuration everywhere)."""
        try:
            return await js.key_value(BUCKET)
        except nats.js.errors.BucketNotFoundError:
            return await js.create_key_value(bucket_config())

    async def run(self, js: JetStreamContext) -> None:
        """Watch and beat until cancelled; any failure restarts both (the list is kept:
        entries only ever tighten, and the watch replays every live key)."""
        while True:
            try:
                kv = await self.bucket(js)
                watcher = await kv.watchall()
                done = asyncio.Event()
                beat = asyncio.create_task(self._beat(kv, done), name="revocations-heartbeat")
                try:
                    await self._follow(watcher)
                finally:
                    # a flag as well as a cancel: nats-py may swallow a cancellation
                    done.set()
                    beat.cancel()
                    await asyncio.wait([beat], timeout=2.0)
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(watcher.stop(), 2.0)  # type: ignore[no-untyped-call]
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("revocations: watch failed (%r); restarting", exc)
                await asyncio.sleep(0.5)

    async def _follow(self, watcher: KeyValue.KeyWatcher) -> None:
        started = self.running_time(time.monotonic())
        while True:
            try:
                # asyncio.timeout, not wait_for: a stop's cancellation is never swallowed
                async with asyncio.timeout(self.max_lag):
                    entry = await anext(watcher)
            except TimeoutError:
                entry = None
            # our own heartbeats stopped coming back: the watch is stuck; start again
            last = self.fresh_as_of if self.fresh_as_of is not None else started
            now = self.running_time(time.monotonic())
            if now - max(last, started) > RESTART_AFTER_SECONDS:
                raise RuntimeError("no heartbeat came back")
            if entry is None:
                continue
            if entry.key.startswith("heartbeat."):
                if entry.key == self.beat_key:
                    self._own_beat(entry.value)
                continue
            deleted = entry.operation in ("DEL", "PURGE")
            self.apply(entry.key, None if deleted else entry.value)

    def _own_beat(self, value: bytes | None) -> None:
        try:
            n = int(json.loads(value or b"{}").get("n", -1))
        except (ValueError, AttributeError):
            return
        self.beat_seen(n)
        if not self.ready.is_set() and self.caught_up():
            self.ready.set()

    async def clock(self) -> None:
        """Tick until cancelled (a task of its own: stopping the watch must not stop
        the clock, or a dead watch would look like a stalled process)."""
        while True:
            self.tick(time.monotonic())
            await asyncio.sleep(TICK_SECONDS)

    async def _beat(self, kv: KeyValue, done: asyncio.Event) -> None:
        while not done.is_set():
            self._beat_no += 1
            n = self._beat_no
            self.beat_sent(n, time.monotonic())
            try:
                await kv.put(self.beat_key, json.dumps({"n": n}).encode())
            except Exception as exc:  # the watch notices the silence
                log.debug("revocations: heartbeat not stored: %r", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), HEARTBEAT_SECONDS)
