"""The runtime every service shares: FastStream app, migrations, streams, outbox
relay, durable consumers, health, dead letters.

``create_app()`` in each service builds a :class:`Service` and returns
``service.app``; nothing connects at import or construction time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import sqlalchemy as sa
from faststream import FastStream
from faststream.nats import NatsBroker
from faststream.nats.security import NatsCredentials, NatsUserPassword
from faststream.security import BaseSecurity
from nats.js.client import JetStreamContext
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.auth import PASSWORD_CHANGE_SUBJECTS, Principal, TokenVerifier, full_sessions_only
from shared.contracts.common import Command, Empty, Health, Model, PageRequest
from shared.db import UnitOfWork, make_engine, make_raw_pool, make_sessionmaker, migrate
from shared.discovery import Discovery
from shared.errors import NotFound
from shared.logs import configure_logging
from shared.messaging.consumer import ConsumerRunner, Subscription
from shared.messaging.outbox import OutboxRelay
from shared.messaging.rpc import KeyedThrottle, RpcRouter
from shared.messaging.server import UnsupportedServer, check_server_version, server_version
from shared.messaging.streams import StreamSpec, ensure_stream
from shared.messaging.tables import dead_letters
from shared.observability import HttpEndpoint, Metrics, instrument_service
from shared.revocations import RevocationWatcher
from shared.settings import ServiceSettings
from shared.tracing import configure as configure_tracing

log = logging.getLogger(__name__)

STOP_STEP_SECONDS = 10.0

Background = Callable[["Service"], Awaitable[None]]


def _await_chain(task: asyncio.Task[None]) -> str:
    """Where a task is suspended, following the chain of awaited coroutines."""
    out: list[str] = []
    coro: Any = task.get_coro()
    while coro is not None and len(out) < 40:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            out.append(f"  {frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return "\n".join(out)


class DeadLetter(Model):
    id: int
    consumer: str
    subject: str
    message_id: str | None
    error: str
    deliveries: int
    created_at: Any
    replayed_at: Any | None


class DeadLetterPage(Model):
    items: list[DeadLetter]
    next_cursor: str | None = None


class DeadLetterList(PageRequest):
    consumer: str | None = None
    include_replayed: bool = False


class DeadLetterReplay(Command):
    id: int = Field(ge=1)


class ReplayResult(Model):
    id: int
    replayed: bool
    error: str | None = None
    """Why it failed again (secrets redacted); the dead letter stays."""


class Service:
    def __init__(
        self,
        *,
        name: str,
        queue: str,
        settings: ServiceSettings,
        alembic_ini: Path,
        rpc: RpcRouter,
        owned_streams: list[StreamSpec],
        health_subject: str,
        dead_letter_subjects: tuple[str, str] | None = None,
        uow_class: type[UnitOfWork] = UnitOfWork,
    ) -> None:
        self.uow_class = uow_class
        self.name = name
        self.queue = queue
        self.settings = settings
        self.alembic_ini = alembic_ini
        self.rpc = rpc
        self.owned_streams = owned_streams
        self.subscriptions: list[Subscription] = []
        self.background: list[Background] = []
        self.runners: dict[str, ConsumerRunner] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.engine: AsyncEngine | None = None
        self.sessions: async_sessionmaker[AsyncSession] | None = None
        self.read_sessions: async_sessionmaker[AsyncSession] | None = None
        self.pg: asyncpg.Pool | None = None  # raw pool for hot read paths
        self.relay: OutboxRelay | None = None
        self.on_started: list[Callable[[], Awaitable[None]]] = []
        self.started = False  # health says "starting" until every start-up hook has run

        self.revocations = RevocationWatcher(name, settings.revocation_max_lag_seconds)
        self.verifier = TokenVerifier(settings.token_public_key, self.revocations)
        self.metrics = Metrics(name, settings.version)  # shared.observability
        self.http: HttpEndpoint | None = None
        self.discovery: Discovery | None = None  # $SRV.PING / $SRV.INFO (shared.discovery)
        self.health_subject = health_subject
        rpc.metrics = self.metrics
        self.broker = NatsBroker(
            settings.nats_url,
            name=f"{name}-service",
            security=nats_security(settings),
            inbox_prefix=settings.nats_inbox_prefix or "_INBOX",
            logger=None,
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            graceful_timeout=10.0,
        )
        self._register_health(health_subject)
        if dead_letter_subjects:
            self._register_dead_letters(*dead_letter_subjects)
        self.app = FastStream(self.broker, logger=None)
        self.app.service_settings = settings  # type: ignore[attr-defined]
        self.app.on_startup(self._startup)
        self.app.after_startup(self._after_startup)
        self.app.on_shutdown(self._shutdown)

    # --- wiring -------------------------------------------------------------
    def uow(self, *, read_only: bool = False) -> UnitOfWork:
        """A unit of work. ``read_only``: for queries only; it runs without a
        transaction (no BEGIN/ROLLBACK round trips) and refuses to commit."""
        assert self.sessions is not None and self.read_sessions is not None, "not started"
        if read_only:
            return self.uow_class(self.read_sessions, None, read_only=True)
        relay = self.relay
        return self.uow_class(self.sessions, relay.wake if relay else None)

    @property
    def js(self) -> JetStreamContext:
        return self.broker.connection.jetstream()

    def subscribe(self, sub: Subscription) -> None:
        if sub.max_deliver <= 0:
            sub = dataclasses.replace(sub, max_deliver=self.settings.consumer_max_deliver)
        self.subscriptions.append(sub)

    def add_background(self, fn: Background) -> None:
        self.background.append(fn)

    # --- lifecycle ----------------------------------------------------------
    async def _startup(self) -> None:
        url = self.settings.service_database_url
        if self.settings.migrate_on_start:
            await migrate(self.alembic_ini, url)
        self.engine = make_engine(url)
        self.sessions = make_sessionmaker(self.engine)
        self.read_sessions = make_sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        self.pg = await make_raw_pool(url)
        self._sessions_guard()
        self.rpc.mount(
            self.verifier,
            self.queue,
            self.settings.internal_key,
            public_concurrency=self.settings.rpc_public_concurrency,
            public_queue=self.settings.rpc_public_queue,
            throttle=KeyedThrottle(
                self.settings.rpc_throttle_rate, self.settings.rpc_throttle_burst
            ),
        )
        await instrument_service(self)

    async def _after_startup(self) -> None:
        # refuse to run where consumer filters would be dropped (events to wrong handlers)
        try:
            check_server_version(server_version(self.broker.connection))
        except UnsupportedServer as exc:
            log.critical("%s: refusing to start: %s", self.name, exc)
            raise
        js = self.js
        for spec in self.owned_streams:
            await ensure_stream(js, spec, self.settings.stream_limits(spec.name))
        assert self.sessions is not None
        self.relay = OutboxRelay(self.sessions, js, batch=self.settings.outbox_batch)
        self._spawn(self.relay.run, "outbox-relay")
        for sub in self.subscriptions:
            runner = ConsumerRunner(sub, js, self.sessions, self.uow)
            runner.metrics = self.metrics
            self.runners[sub.name] = runner
            self._spawn(runner.run, f"consumer:{sub.name}")
        for fn in self.background:
            self._spawn(lambda fn=fn: fn(self), fn.__name__)  # type: ignore[misc]
        if self.http is not None:
            interval = self.settings.metrics_refresh_seconds
            self._spawn(lambda: self.metrics.refresh_forever(interval), "metrics-refresh")
        for hook in self.on_started:
            await hook()
        await self._revocations_start()
        await self.rpc.start(self.broker.connection)
        await self._discovery_start()
        self.started = True
        log.info("%s service started", self.name)

    async def _discovery_start(self) -> None:
        """Answer NATS's service discovery (``$SRV.PING`` / ``$SRV.INFO``) for this
        instance, with where its metrics are."""
        metadata = {}
        if self.http is not None:
            metadata["metrics"] = f"http://{self.http.host}:{self.http.port}/metrics"
        endpoints = [
            {
                "name": ep.subject,
                "subject": ep.subject,
                "queue_group": self.queue,
                "metadata": {"summary": ep.summary} if ep.summary else None,
            }
            for ep in self.rpc.endpoints.values()
        ]
        self.discovery = Discovery(
            self.name,
            self.settings.version,
            f"The {self.name} service.",
            endpoints,
            metadata,
            stats=self.rpc.stats,
        )
        await self.discovery.start(self.broker.connection)

    # --- sessions (docs/security.md) ---------------------------------------------
    def _sessions_guard(self) -> None:
        """A temporary-password session may only change its password (or log out)."""
        for ep in self.rpc.endpoints.values():
            if not ep.public and ep.subject not in PASSWORD_CHANGE_SUBJECTS:
                ep.handler = full_sessions_only(ep.handler)

    async def _revocations_start(self) -> None:
        """Follow the REVOCATIONS bucket; serve once caught up (or after a bounded wait:
        until then every token is refused, never trusted)."""
        self._spawn(self.revocations.clock, "revocations-clock")
        self._spawn(lambda: self.revocations.run(self.js), "revocations")
        try:
            await asyncio.wait_for(self.revocations.ready.wait(), STOP_STEP_SECONDS)
        except TimeoutError:
            log.warning("%s: revocations not caught up yet; tokens refused until then", self.name)

    def _spawn(self, factory: Callable[[], Awaitable[None]], name: str) -> None:
        """Run a long-lived task; if it crashes, log and start it again."""

        async def guarded() -> None:
            while True:
                try:
                    await factory()
                    return
                except asyncio.CancelledError:
                    raise
                except Exception:
                    task = asyncio.current_task()
                    if task is not None and task.cancelling():
                        raise asyncio.CancelledError from None  # a stop, not a crash
                    log.exception("background task %s crashed; restarting", name)
                    await asyncio.sleep(1.0)

        self._tasks.append(asyncio.create_task(guarded(), name=name))

    async def _shutdown(self) -> None:
        """Stop taking requests, stop background work, close the databases. Every step
        is bounded: a stop never hangs on one stuck task or connection."""
        self.started = False
        if self.discovery is not None:
            await self.discovery.stop()
            self.discovery = None
        if self.http is not None:
            await self.http.close()
            self.http = None
        await self._bounded(self.rpc.stop(), "requests in flight")
        for runner in self.runners.values():
            runner.stop()
        for t in self._tasks:
            t.cancel()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=STOP_STEP_SECONDS)
            for t in pending:
                frames = _await_chain(t)
                log.error("background task %s did not stop in time:\n%s", t.get_name(), frames)
        self._tasks.clear()
        if self.pg is not None:
            pool, self.pg = self.pg, None
            if not await self._bounded(pool.close(), "raw pool"):
                pool.terminate()
        if self.engine is not None:
            await self._bounded(self.engine.dispose(), "engine")

    async def _bounded(self, step: Awaitable[object], what: str) -> bool:
        try:
            await asyncio.wait_for(step, STOP_STEP_SECONDS)
            return True
        except TimeoutError:
            log.error("stopping %s: %s did not finish in %ss", self.name, what, STOP_STEP_SECONDS)
            return False

    # --- built-in endpoints -------------------------------------------------
    def _register_health(self, subject: str) -> None:
        @self.rpc.endpoint(
            subject,
            Empty,
            Health,
            public=True,
            budgeted=False,
            summary="Liveness and dependencies.",
        )
        async def health(cmd: Empty, principal: Principal | None) -> Health:
            return await self.health()

    async def health(self) -> Health:
        """``ok``, ``starting``, or ``degraded`` with ``details.reasons`` naming each
        dependency that is down and each consumer stalled on a transient fault."""
        reasons: list[str] = []
        db = "ok"
        try:
            assert self.sessions is not None
            async with self.sessions() as s:
                await asyncio.wait_for(s.execute(sa.text("SELECT 1")), 2.0)
        except Exception as exc:
            db = f"error: {type(exc).__name__}"
            reasons.append(f"database unreachable ({type(exc).__name__})")
        broker = "ok" if self.broker.connection.is_connected else "disconnected"
        if broker != "ok":
            reasons.append("NATS connection lost")
        consumers: dict[str, str] = {}
        for n, r in self.runners.items():
            stalled = r.stalled
            if stalled:
                consumers[n] = "stalled"
                reasons.append(f"consumer {n} stalled: {stalled}")
            else:
                consumers[n] = "ready" if r.ready.is_set() else "waiting"
        status = "degraded" if reasons else "ok"
        if not self.started:
            status = "starting"
        details: dict[str, Any] = {"consumers": consumers}
        if reasons:
            details["reasons"] = reasons
        return Health(
            service=self.name,
            version=self.settings.version,
            status=status,
            database=db,
            broker=broker,
            details=details,
        )

    def _register_dead_letters(self, list_subject: str, replay_subject: str) -> None:
        @self.rpc.endpoint(
            list_subject, DeadLetterList, DeadLetterPage, summary="(op) Dead letters."
        )
        async def list_dead(cmd: DeadLetterList, principal: Principal | None) -> DeadLetterPage:
            assert principal is not None and self.sessions is not None
            principal.require_operator()
            q = sa.select(dead_letters).order_by(dead_letters.c.id).limit(cmd.limit + 1)
            if cmd.cursor:
                q = q.where(dead_letters.c.id > int(cmd.cursor))
            if cmd.consumer:
                q = q.where(dead_letters.c.consumer == cmd.consumer)
            if not cmd.include_replayed:
                q = q.where(dead_letters.c.replayed_at.is_(None))
            async with self.sessions() as s:
                rows = (await s.execute(q)).all()
            items = [DeadLetter.model_validate(r._asdict()) for r in rows[: cmd.limit]]
            nxt = str(items[-1].id) if len(rows) > cmd.limit else None
            return DeadLetterPage(items=items, next_cursor=nxt)

        @self.rpc.endpoint(
            replay_subject, DeadLetterReplay, ReplayResult, summary="(op) Replay one."
        )
        async def replay(cmd: DeadLetterReplay, principal: Principal | None) -> ReplayResult:
            assert principal is not None and self.sessions is not None
            principal.require_operator()
            async with self.sessions() as s:
                consumer = (
                    await s.execute(
                        sa.select(dead_letters.c.consumer).where(dead_letters.c.id == cmd.id)
                    )
                ).scalar()
            if consumer is None or consumer not in self.runners:
                raise NotFound("No such dead letter.")
            ok, error = await self.runners[consumer].replay(cmd.id)
            return ReplayResult(id=cmd.id, replayed=ok, error=error)


def nats_security(settings: ServiceSettings) -> BaseSecurity | None:
    """The service's own NATS user (shared.natsconf): a credentials file, or user and
    password; None only for a server without authentication."""
    if settings.nats_creds:
        return NatsCredentials(settings.nats_creds)
    if settings.nats_user:
        return NatsUserPassword(settings.nats_user, settings.nats_password)
    return None


def run_app(create_app: Callable[[], FastStream]) -> None:
    """Run a service in the foreground until SIGINT/SIGTERM."""
    app = create_app()
    settings = getattr(app, "service_settings", None)
    configure_logging(
        getattr(settings, "service_name", "service"), getattr(settings, "log_level", "INFO")
    )
    configure_tracing(getattr(settings, "service_name", "service"))
    asyncio.run(app.run())
