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
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from faststream.nats import NatsResponse
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import BaseModel, ValidationError

from shared.auth import Principal, TokenVerifier
from shared.db import is_connection_lost
from shared.errors import AppError, Forbidden, Internal, ValidationFailed, field_error
from shared.logs import correlation_id
from shared.observability import Metrics, observe_reply
from shared.tracing import server_span, set_outcome

log = logging.getLogger(__name__)

Handler = Callable[[Any, Principal | None], Awaitable[Any]]


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
        self.metrics: Metrics | None = None  # set by the Service (shared.observability)

    def endpoint(
        self,
        subject: str,
        request: type[BaseModel],
        reply: type[BaseModel] | None = None,
        *,
        public: bool = False,
        internal: bool = False,
        summary: str = "",
    ) -> Callable[[Handler], Handler]:
        """Register a handler. ``public``: no token needed. ``internal``: only other
        services may call it (header ``X-Internal-Key`` = the deployment's
        ``INTERNAL_KEY``), in addition to a valid token."""

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
            )
            return fn

        return register

    def mount(self, verifier: TokenVerifier, queue: str, internal_key: str = "") -> None:
        """Bind the router to a service; :meth:`start` subscribes once connected."""
        self.verifier = verifier
        self.internal_key = internal_key
        self.queue = queue

    async def start(self, nc: Client, max_in_flight: int = 256) -> None:
        """Serve every endpoint as a queue subscription on the broker's connection.

        Requests are dispatched straight from the nats-py connection (one task per
        request, at most ``max_in_flight`` at a time) rather than through
        FastStream's per-message pipeline, which costs more than the rest of a
        simple query put together; see docs/decisions.md."""
        self._nc = nc
        self._limit = asyncio.Semaphore(max_in_flight)
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

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop taking requests; let the ones in flight finish (and reply)."""
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._subs.clear()
        if self._in_flight:
            await asyncio.wait(list(self._in_flight), timeout=timeout)

    async def _serve(self, ep: Endpoint, msg: Msg) -> None:
        async with self._limit:
            response = await self.dispatch(ep, msg.data, msg.headers)
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
        return response

    async def _dispatch(
        self, ep: Endpoint, data: bytes, headers: dict[str, str] | None
    ) -> NatsResponse:
        headers = headers or {}
        cid = headers.get("X-Correlation-Id") or uuid.uuid4().hex
        token = correlation_id.set(cid)
        started = time.perf_counter()
        try:
            principal = None
            if ep.internal:
                given = headers.get("X-Internal-Key", "")
                if not self.internal_key or not hmac.compare_digest(given, self.internal_key):
                    raise Forbidden("This subject is for the platform's own services.")
            if not ep.public:
                assert self.verifier is not None
                principal = self.verifier.from_headers(headers)
            try:
                raw = json.loads(data) if data else {}
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ValidationFailed(
                    "The request body is not valid JSON.",
                    [field_error("body", f"invalid JSON: {exc}")],
                ) from exc
            if not isinstance(raw, dict):
                raise ValidationFailed.single("body", "The request body must be a JSON object.")
            try:
                cmd = ep.request.model_validate(raw)
            except ValidationError as exc:
                raise validation_error(exc) from exc
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
        except AppError as err:
            if err.code == "internal":
                log.error(
                    "internal error on %s: %s",
                    ep.subject,
                    err.message,
                    extra={"subject": ep.subject},
                )
            return error_response(err)
        except Exception:
            log.exception("unhandled error on %s", ep.subject, extra={"subject": ep.subject})
            return error_response(
                Internal("Internal error; quote the correlation id.", {"correlation_id": cid})
            )
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
