"""Metrics, HTTP health and audit lines of a service (docs/observability.md).

Each :class:`~shared.service.Service` has its own :class:`Metrics` (its own Prometheus
registry: several services may run in one process, as in the tests). With
``metrics_port`` set (``<PREFIX>_METRICS_PORT``; 0 = off) the service serves, on one
small HTTP server:

- ``GET /metrics``: the Prometheus text format;
- ``GET /healthz``: liveness (200 while the process's event loop answers);
- ``GET /readyz``: the same report as ``<service>.v1.health``; 200 when its status is
  ``ok``, else 503.

Audit lines: :mod:`shared.audit` (one per sign-in, user, invite and import request,
written after each reply by :func:`observe_reply`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from shared.audit import AUDITED as AUDITED
from shared.audit import audit as audit
from shared.audit import audit_request as audit_request
from shared.audit import mask_email as mask_email

log = logging.getLogger(__name__)
audit_log = logging.getLogger("audit")

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

Refresher = Callable[[], Awaitable[None]]


class _FunctionCollector(Collector):
    """A counter or gauge whose value a function returns at scrape time."""

    def __init__(self, name: str, doc: str, kind: str, fn: Callable[[], float]) -> None:
        self.name, self.doc, self.kind, self.fn = name, doc, kind, fn

    def collect(self) -> Iterable[Metric]:
        value = float(self.fn())
        if self.kind == "counter":
            yield CounterMetricFamily(self.name, self.doc, value=value)
        else:
            yield GaugeMetricFamily(self.name, self.doc, value=value)


class Metrics:
    """One service's metrics (names: docs/observability.md)."""

    def __init__(self, service: str, version: str = "") -> None:
        self.service = service
        self.registry = CollectorRegistry()
        r = self.registry
        Gauge(
            "provisioning_service_info",
            "The service and its version (always 1).",
            ["service", "version"],
            registry=r,
        ).labels(service, version).set(1)
        self.requests = Counter(
            "provisioning_requests",
            "Requests answered, by subject and outcome (ok, or the error code).",
            ["subject", "outcome"],
            registry=r,
        )
        self.latency = Histogram(
            "provisioning_request_duration_seconds",
            "Time to answer a request, by subject.",
            ["subject"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.redeliveries = Counter(
            "provisioning_consumer_redeliveries",
            "Event deliveries that were not the first (a retry after a failure or a timeout).",
            ["consumer"],
            registry=r,
        )
        self.dead_letters = Counter(
            "provisioning_dead_letters",
            "Events moved to the dead_letters table, by consumer.",
            ["consumer"],
            registry=r,
        )
        self.consumer_pending = Gauge(
            "provisioning_consumer_pending",
            "Events in the stream not yet delivered to the consumer (its lag).",
            ["consumer"],
            registry=r,
        )
        self.outbox_backlog = Gauge(
            "provisioning_outbox_backlog",
            "Outbox events committed but not yet published to JetStream.",
            registry=r,
        )
        self.refreshers: list[Refresher] = []
        self._counted: dict[tuple[str, str], Any] = {}  # label children, looked up once
        self._timed: dict[str, Any] = {}

    def observe_request(self, subject: str, outcome: str, seconds: float) -> None:
        counter = self._counted.get((subject, outcome))
        if counter is None:
            counter = self._counted[(subject, outcome)] = self.requests.labels(subject, outcome)
        timer = self._timed.get(subject)
        if timer is None:
            timer = self._timed[subject] = self.latency.labels(subject)
        counter.inc()
        timer.observe(seconds)

    def function(self, name: str, doc: str, fn: Callable[[], float], kind: str = "gauge") -> None:
        """A counter or gauge read from ``fn`` at each scrape."""
        self.registry.register(_FunctionCollector(name, doc, kind, fn))

    def gauge(self, name: str, doc: str, labels: Iterable[str] = ()) -> Gauge:
        return Gauge(name, doc, list(labels), registry=self.registry)

    def add_refresher(self, fn: Refresher) -> None:
        """A coroutine that updates gauges from a query, run every refresh interval."""
        self.refreshers.append(fn)

    async def refresh(self) -> None:
        for fn in self.refreshers:
            try:
                await asyncio.wait_for(fn(), 5.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("metrics refresh %s failed: %r", getattr(fn, "__name__", fn), exc)

    async def refresh_forever(self, interval: float) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(interval)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


# --- requests ------------------------------------------------------------------


def outcome_of(headers: dict[str, str] | None, body: bytes) -> str:
    """``ok``, or the error code of an error reply."""
    if not headers or "Nats-Service-Error-Code" not in headers:
        return "ok"
    try:
        return str(json.loads(body)["error"]["code"])
    except Exception:
        return "error"


def observe_reply(
    metrics: Metrics | None,
    subject: str,
    data: bytes,
    request_headers: dict[str, str],
    reply_headers: dict[str, str],
    reply_body: bytes,
    started: float,
) -> str:
    """After one request: count it, time it, write its audit line; its outcome."""
    outcome = outcome_of(reply_headers, reply_body)
    if metrics is not None:
        metrics.observe_request(subject, outcome, time.perf_counter() - started)
    if subject in AUDITED:
        try:
            audit_request(subject, outcome, data, request_headers, reply_body)
        except Exception:  # an audit line never breaks a reply
            log.exception("audit line for %s failed", subject)
    return outcome


# --- wiring into a Service ---------------------------------------------------------


def query_gauge(svc: Any, gauge: Gauge, sql: str, labels: int = 0) -> Refresher:
    """A refresher setting ``gauge`` from a query on the service's database: with
    ``labels`` = n, each row is n label values then the value; else one value."""

    async def refresh() -> None:
        async with svc.sessions() as s:
            rows = (await s.execute(sa.text(sql))).all()
        if not labels:
            gauge.set(float(rows[0][0] or 0) if rows else 0.0)
            return
        gauge.clear()
        for row in rows:
            gauge.labels(*[str(v) for v in row[:labels]]).set(float(row[labels] or 0))

    refresh.__name__ = f"refresh_{gauge._name}"
    return refresh


async def instrument_service(svc: Any) -> None:
    """Called once the service's database is set up (shared.service): the outbox backlog
    and consumer lag refreshers, and the HTTP endpoint when ``metrics_port`` is set."""
    from shared.contracts.common import Empty

    metrics: Metrics = svc.metrics
    if not getattr(metrics, "_instrumented", False):
        metrics._instrumented = True  # type: ignore[attr-defined]
        metrics.add_refresher(
            query_gauge(
                svc,
                metrics.outbox_backlog,
                "SELECT count(*) FROM outbox WHERE published_at IS NULL",
            )
        )

        async def refresh_consumer_pending() -> None:
            for name, runner in list(svc.runners.items()):
                with contextlib.suppress(Exception):
                    info = await svc.js.consumer_info(runner.sub.stream, name)
                    metrics.consumer_pending.labels(name).set(info.num_pending or 0)

        metrics.add_refresher(refresh_consumer_pending)
    port = svc.settings.metrics_port
    if port and svc.http is None:
        endpoint = svc.rpc.endpoints[svc.health_subject]

        async def ready() -> dict[str, Any]:
            report = await endpoint.handler(Empty(), None)
            return dict(report.model_dump(mode="json"))

        svc.http = HttpEndpoint(metrics, ready, svc.settings.metrics_host, port)
        await svc.http.start()


# --- HTTP: /metrics, /healthz, /readyz -------------------------------------------

ReadyFn = Callable[[], Awaitable[dict[str, Any]]]

_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


class HttpEndpoint:
    """A minimal HTTP/1.1 server on the event loop (no thread, no framework): enough for
    Prometheus scrapes and container health checks."""

    def __init__(self, metrics: Metrics, ready: ReadyFn, host: str, port: int) -> None:
        self.metrics = metrics
        self.ready = ready
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        sock = self._server.sockets[0]
        self.port = int(sock.getsockname()[1])
        log.info("metrics and health on http://%s:%d", self.host, self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5.0)
            while True:  # skip the headers
                line = await asyncio.wait_for(reader.readline(), 5.0)
                if line in (b"\r\n", b"\n", b""):
                    break
            parts = request.decode("latin-1").split()
            method = parts[0] if parts else ""
            path = parts[1].split("?", 1)[0] if len(parts) > 1 else "/"
            status, ctype, body = await self.respond(method, path)
            head = (
                f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\n"
                f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n"
            )
            writer.write(head.encode() + (b"" if method == "HEAD" else body))
            await writer.drain()
        except Exception as exc:
            log.debug("http request failed: %r", exc)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def respond(self, method: str, path: str) -> tuple[int, str, bytes]:
        if method not in ("GET", "HEAD"):
            return 405, "text/plain", b"method not allowed\n"
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, self.metrics.exposition()
        if path == "/healthz":
            return 200, "application/json", b'{"status": "alive"}\n'
        if path == "/readyz":
            try:
                report = await asyncio.wait_for(self.ready(), 5.0)
            except Exception as exc:
                report = {"status": "error", "error": type(exc).__name__}
            ok = report.get("status") == "ok"
            return (200 if ok else 503), "application/json", json.dumps(report).encode() + b"\n"
        return 404, "text/plain", b"not found\n"


def iter_samples(metrics: Metrics, name: str) -> Iterator[tuple[dict[str, str], float]]:
    """(labels, value) of every sample called ``name`` (tests, tools)."""
    for family in metrics.registry.collect():
        for sample in family.samples:
            if sample.name == name:
                yield sample.labels, sample.value
