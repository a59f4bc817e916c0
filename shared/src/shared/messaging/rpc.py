"""Request/reply endpoints: contract in -> handler -> contract out.

Every endpoint replies: the resource as JSON on success, or
``{"error": {"code", "message", "details"}}`` with ``Nats-Service-Error-Code`` and
``Nats-Service-Error`` headers. Bad JSON, unknown fields and missing tokens are
answered before the handler runs; an unhandled exception becomes an
``internal`` reply logged with its correlation id, never a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import inspect
import json
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from faststream.nats import NatsResponse
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import BaseModel, ValidationError

from shared.auth import Principal, TokenVerifier
from shared.db import is_connection_lost
from shared.errors import (
    AppError,
    Forbidden,
    Internal,
    LimitExceeded,
    Unavailable,
    ValidationFailed,
    field_error,
)
from shared.faults import is_transient
from shared.logs import correlation_id
from shared.messaging.payload import parse_object
from shared.observability import Metrics, observe_reply
from shared.tracing import server_span, set_outcome

log = logging.getLogger(__name__)

Handler = Callable[[Any, Principal | None], Awaitable[Any]]
ThrottleKey = Callable[[Any], str | None]


class KeyedThrottle:
    """A token bucket per key (an email, a token prefix): ``burst`` attempts at once,
    then ``rate`` per second. Bounded memory: the least recently used keys are
    forgotten beyond ``max_keys``."""

    def __init__(self, rate: float, burst: float, max_keys: int = 50_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        tokens, at = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        ok = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if ok else tokens, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return ok


def loc_to_path(loc: tuple[int | str, ...]) -> tuple[str, int | None]:
    """('users', 3, 'email') -> ('users[3].email', 3)."""
    path = ""
    index: int | None = None
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
            if index is None:
                index = part
        else:
            path += ("." if path else "") + str(part)
    return path or "body", index


def validation_error(
    exc: ValidationError, message: str = "The request is not valid."
) -> ValidationFailed:
    errors = []
    for e in exc.errors(include_url=False, include_input=False):
        path, index = loc_to_path(tuple(e["loc"]))
        msg = str(e["msg"])
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        errors.append(field_error(path, msg, index=index, type=e["type"]))
    return ValidationFailed(message, errors)


def error_response(err: AppError) -> NatsResponse:
    return NatsResponse(
        json.dumps(err.to_body()).encode(),
        headers={
            "Content-Type": "application/json",
            "Nats-Service-Error-Code": str(err.status),
            "Nats-Service-Error": err.message[:200],
        },
    )


def ok_response(result: Any) -> NatsResponse:
    if isinstance(result, BaseModel):
        body = result.model_dump_json().encode()
    else:
        body = json.dumps(result, default=str).encode()
    return NatsResponse(body, headers={"Content-Type": "application/json"})


@dataclass
class Endpoint:
    subject: str
    request: type[BaseModel]
    reply: type[BaseModel] | None
    handler: Handler
    public: bool
    summary: str
    internal: bool = False
    budgeted: bool = False
    """Unauthenticated work (sign-in, activation): served on the router's own small
    budget, so a flood of it cannot delay authenticated requests."""
    throttle: ThrottleKey | None = None
    """The key (an email, a token prefix) whose attempts are rate-limited."""


UseCase = Callable[..., Awaitable[Any]]
Provider = Callable[[], Any]


@dataclass(frozen=True)
class Route:
    """One row of a service's endpoint table: its subject, request and reply contracts,
    summary, the use case that answers it, and the options of :meth:`RpcRouter.endpoint`.

    The use case is called with its parameters by name (see :meth:`RpcRouter.serve`):
    ``cmd`` is the validated request, ``p`` the caller's principal (a use case that
    takes ``p`` is never public), any other name the service's provider of that name
    (a unit of work, the service's dependencies ...), called once per request."""

    subject: str
    request: type[BaseModel]
    reply: type[BaseModel] | None
    summary: str
    use_case: UseCase
    public: bool = False
    internal: bool = False
    budgeted: bool | None = None
    throttle: ThrottleKey | None = None


def bind(route: Route, providers: dict[str, Provider]) -> Handler:
    """The endpoint handler of ``route``: its use case called with ``cmd``, ``p`` and
    the providers its parameters name (parameters with a default may be left out).
    An unknown parameter is refused at registration, not at the first request."""
    names: list[str] = []
    for name, param in inspect.signature(route.use_case).parameters.items():
        if name in ("cmd", "p") or name in providers:
            names.append(name)
        elif param.default is inspect.Parameter.empty:
            raise ValueError(f"{route.subject}: nothing provides {name!r}")
    use_case = route.use_case

    async def handler(cmd: Any, principal: Principal | None) -> Any:
        args: list[Any] = []
        for name in names:
            if name == "cmd":
                args.append(cmd)
            elif name == "p":
                assert principal is not None  # only endpoints that need a token take p
                args.append(principal)
            else:
                args.append(providers[name]())
        return await use_case(*args)

    return handler


@dataclass
class EndpointStats:
    """What ``$SRV.STATS`` reports of one endpoint (shared.discovery)."""

    num_requests: int = 0
    num_errors: int = 0
    last_error: str = ""
    processing_time: int = 0  # nanoseconds, in all

    def record(self, nanoseconds: int, error: str | None) -> None:
        self.num_requests += 1
        self.processing_time += nanoseconds
        if error is not None:
            self.num_errors += 1
            self.last_error = error


class RpcRouter:
    """The endpoints of one service, mounted on a broker in the service's queue group."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.endpoints: dict[str, Endpoint] = {}
        self.verifier: TokenVerifier | None = None
        self.internal_key = ""
        self.queue = service
        self._subs: list[Subscription] = []
        self._in_flight: set[asyncio.Task[None]] = set()
        self.public_concurrency = 8
        self.public_queue = 128
        self._public_waiting = 0
        self.throttle = KeyedThrottle(rate=1.0, burst=10.0)
        self.metrics: Metrics | None = None  # set by the Service (shared.observability)
        self._stats: dict[str, EndpointStats] = {}

    def endpoint(
        self,
        subject: str,
        request: type[BaseModel],
        reply: type[BaseModel] | None = None,
        *,
        public: bool = False,
        internal: bool = False,
        summary: str = "",
        budgeted: bool | None = None,
        throttle: ThrottleKey | None = None,
    ) -> Callable[[Handler], Handler]:
        """Register a handler. ``public``: no token needed. ``internal``: only other
        services may call it (header ``X-Internal-Key`` = the deployment's
        ``INTERNAL_KEY``), in addition to a valid token. ``budgeted`` (default: as
        ``public``): served on the bounded budget for unauthenticated work; health
        checks opt out. ``throttle``: the key whose attempts are rate-limited."""

        def register(fn: Handler) -> Handler:
            if subject in self.endpoints:  # pragma: no cover
                raise ValueError(f"{subject} registered twice")
            self.endpoints[subject] = Endpoint(
                subject,
                request,
                reply,
                fn,
                public,
                summary or (fn.__doc__ or "").strip(),
                internal,
                public if budgeted is None else budgeted,
                throttle,
            )
            return fn

        return register

    def serve(self, routes: Iterable[Route], **providers: Provider) -> None:
        """Register a table of routes, each use case bound to the ``providers`` its
        parameters name (:func:`bind`): ``rpc.serve(ROUTES, uow=new_uow, deps=lambda:
        deps)`` instead of one wrapper function per endpoint."""
        for r in routes:
            self.endpoint(
                r.subject,
                r.request,
                r.reply,
                public=r.public,
                internal=r.internal,
                summary=r.summary,
                budgeted=r.budgeted,
                throttle=r.throttle,
            )(bind(r, providers))

    def mount(
        self,
        verifier: TokenVerifier,
        queue: str,
        internal_key: str = "",
        *,
        public_concurrency: int = 8,
        public_queue: int = 128,
        throttle: KeyedThrottle | None = None,
    ) -> None:
        """Bind the router to a service; :meth:`start` subscribes once connected.
        ``public_concurrency`` unauthenticated requests run at once and at most
        ``public_queue`` more wait; any beyond are refused at once (``limit_exceeded``,
        reason ``busy``) instead of queuing without bound."""
        self.verifier = verifier
        self.internal_key = internal_key
        self.queue = queue
        self.public_concurrency = public_concurrency
        self.public_queue = public_queue
        if throttle is not None:
            self.throttle = throttle

    async def start(self, nc: Client, max_in_flight: int = 256) -> None:
        """Serve every endpoint as a queue subscription on the broker's connection.

        Requests are dispatched straight from the nats-py connection (one task per
        request, at most ``max_in_flight`` at a time) rather than through
        FastStream's per-message pipeline, which costs more than the rest of a
        simple query put together; see docs/decisions.md."""
        self._nc = nc
        self._limit = asyncio.Semaphore(max_in_flight)
        self._public_limit = asyncio.Semaphore(self.public_concurrency)
        for ep in self.endpoints.values():

            async def on_msg(msg: Msg, ep: Endpoint = ep) -> None:
                task = asyncio.create_task(self._serve(ep, msg))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)

            self._subs.append(
                await nc.subscribe(
                    ep.subject, queue=self.queue, cb=on_msg, pending_msgs_limit=65536
                )
            )
        # the server has every subscription before the service says it started: a
        # request sent right after gets an answer, not "no responders"
        await nc.flush()

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop taking requests; let the ones in flight finish (and reply)."""
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._subs.clear()
        if self._in_flight:
            await asyncio.wait(list(self._in_flight), timeout=timeout)

    async def _serve(self, ep: Endpoint, msg: Msg) -> None:
        if not ep.budgeted:
            async with self._limit:
                response = await self.dispatch(ep, msg.data, msg.headers)
        elif self._public_waiting >= self.public_concurrency + self.public_queue:
            response = error_response(
                LimitExceeded(
                    "The service is busy with unauthenticated requests; try again shortly.",
                    {"reason": "busy", "retry_after_seconds": 1},
                )
            )
        else:
            self._public_waiting += 1
            try:
                async with self._public_limit:
                    response = await self.dispatch(ep, msg.data, msg.headers)
            finally:
                self._public_waiting -= 1
        if msg.reply:
            body = (
                response.body if isinstance(response.body, bytes) else str(response.body).encode()
            )
            await self._nc.publish(msg.reply, body, headers=response.headers)

    async def dispatch(
        self, ep: Endpoint, data: bytes, headers: dict[str, str] | None
    ) -> NatsResponse:
        """Answer one request; the reply echoes its ``X-Correlation-Id`` (one is made
        when the request has none), and it is counted, timed and audited
        (shared.observability) and traced (shared.tracing)."""
        started = time.perf_counter()
        headers = dict(headers or {})
        headers.setdefault("X-Correlation-Id", uuid.uuid4().hex)
        with server_span(self.service, ep.subject, headers) as span:
            response = await self._dispatch(ep, data, headers)
            reply_headers = dict(response.headers or {})
            reply_headers["X-Correlation-Id"] = headers["X-Correlation-Id"]
            response.headers = reply_headers
            body = response.body if isinstance(response.body, bytes) else b""
            cid = correlation_id.set(headers["X-Correlation-Id"])
            try:
                outcome = observe_reply(
                    self.metrics, ep.subject, data, headers, reply_headers, body, started
                )
            finally:
                correlation_id.reset(cid)
            set_outcome(span, outcome)
        error = reply_headers.get("Nats-Service-Error-Code")
        if error is not None:
            error = f"{error}:{reply_headers.get('Nats-Service-Error', '')}"
        elapsed = int((time.perf_counter() - started) * 1e9)
        self._stats.setdefault(ep.subject, EndpointStats()).record(elapsed, error)
        return response

    def stats(self) -> dict[str, dict[str, Any]]:
        """Each endpoint's counts since this instance started (``$SRV.STATS``)."""
        return {subject: vars(st).copy() for subject, st in self._stats.items()}

    async def _dispatch(
        self, ep: Endpoint, data: bytes, headers: dict[str, str] | None
    ) -> NatsResponse:
        headers = headers or {}
        cid = headers.get("X-Correlation-Id") or uuid.uuid4().hex
        token = correlation_id.set(cid)
        started = time.perf_counter()
        try:
            cmd, principal = self._admit(ep, data, headers)
            try:
                result = await ep.handler(cmd, principal)
            except Exception as exc:
                if not is_connection_lost(exc):
                    raise
                # a pooled connection died (database restart): the transaction did not
                # commit, the pool has dropped that connection; try once more
                log.warning("database connection lost on %s; retrying once", ep.subject)
                result = await ep.handler(cmd, principal)
            return ok_response(result)
        except Exception as exc:
            return self._failure(ep, exc, cid)
        finally:
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "handled",
                    extra={
                        "subject": ep.subject,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                )
            correlation_id.reset(token)

    def _admit(
        self, ep: Endpoint, data: bytes, headers: dict[str, str]
    ) -> tuple[BaseModel, Principal | None]:
        """Who is asking (internal key, token) and what (the validated request), or
        the refusal; a throttled key is refused here too."""
        principal = None
        if ep.internal:
            given = headers.get("X-Internal-Key", "")
            if not self.internal_key or not hmac.compare_digest(given, self.internal_key):
                raise Forbidden("This subject is for the platform's own services.")
        if not ep.public:
            assert self.verifier is not None
            principal = self.verifier.from_headers(headers)
        raw = parse_object(data)
        try:
            cmd = ep.request.model_validate(raw)
        except ValidationError as exc:
            raise validation_error(exc) from exc
        if ep.throttle is not None:
            key = ep.throttle(cmd)
            if key and not self.throttle.allow(f"{ep.subject}:{key}"):
                raise LimitExceeded(
                    "Too many attempts; try again shortly.",
                    {"reason": "throttled", "retry_after_seconds": 1},
                )
        return cmd, principal

    def _failure(self, ep: Endpoint, exc: Exception, cid: str) -> NatsResponse:
        """The error reply: the AppError as it is, a transient fault as ``unavailable``,
        anything else as ``internal`` with the correlation id (and logged)."""
        if isinstance(exc, AppError):
            if exc.code == "internal":
                log.error(
                    "internal error on %s: %s",
                    ep.subject,
                    exc.message,
                    extra={"subject": ep.subject},
                )
            return error_response(exc)
        if is_transient(exc):  # the caller (a consumer) retries an `unavailable`
            log.warning("%s: dependency unavailable (%s)", ep.subject, type(exc).__name__)
            return error_response(
                Unavailable("A dependency is unavailable; try again.", {"correlation_id": cid})
            )
        log.error(
            "unhandled error on %s",
            ep.subject,
            exc_info=exc,
            extra={"subject": ep.subject},
        )
        return error_response(
            Internal("Internal error; quote the correlation id.", {"correlation_id": cid})
        )
