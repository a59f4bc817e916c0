"""OpenTelemetry traces across NATS (docs/observability.md "Traces").

A request's ``traceparent`` header (W3C Trace Context) is the parent of the span the
service opens for it; an event written to the outbox while that span is current
carries it (the CloudEvents distributed-tracing extension attribute ``traceparent``)
and the outbox relay copies it into the message's ``traceparent`` header; a consumer
opens its span under it. So one ``identity.v1.users.add`` with ``send_invite`` is one
trace: identity's request span, invite-scheduler's consumer span and the SMTP send.

Tracing is off (no span is made, nothing added to messages) until a tracer provider
of the SDK is installed: :func:`configure` does it in a service process when
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (OTLP over HTTP; the standard ``OTEL_*``
variables apply); tests install their own with an in-memory exporter.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import ProxyTracerProvider, Span, SpanKind, Status, StatusCode

log = logging.getLogger(__name__)

TRACER = "provisioning"
_TRACEPARENT = re.compile(
    rb'"traceparent":\s*"([0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2})"'
)


_on = False
_checked = -1.0


def enabled() -> bool:
    """True once an SDK tracer provider is installed (else tracing costs nothing).
    A provider cannot be removed once set; while there is none, this looks again at
    most once a second (:func:`refresh` at once)."""
    global _checked
    if _on:
        return True
    now = time.monotonic()
    if now - _checked >= 1.0:
        _checked = now
        refresh()
    return _on


def refresh() -> bool:
    """Look now whether a tracer provider has been installed (after installing one)."""
    global _on
    _on = not isinstance(trace.get_tracer_provider(), ProxyTracerProvider)
    return _on


def configure(service: str) -> bool:
    """In a service process: export spans over OTLP/HTTP when
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set."""
    if not (
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    ):
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = os.environ.get("OTEL_SERVICE_NAME") or service
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    refresh()
    log.info("traces exported over OTLP as %s", name)
    return True


def _tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER)


def _finish(span: Span, outcome: str) -> None:
    span.set_attribute("provisioning.outcome", outcome)
    if outcome != "ok":
        span.set_status(Status(StatusCode.ERROR, outcome))


_OFF: contextlib.nullcontext[None] = contextlib.nullcontext()


def server_span(
    service: str, subject: str, headers: Mapping[str, str]
) -> contextlib.AbstractContextManager[Span | None]:
    """The span of one request (its parent: the request's ``traceparent``)."""
    if not enabled():
        return _OFF
    return _server_span(service, subject, headers)


@contextlib.contextmanager
def _server_span(service: str, subject: str, headers: Mapping[str, str]) -> Iterator[Span]:
    parent = propagate.extract(dict(headers))
    with _tracer().start_as_current_span(
        subject,
        context=parent,
        kind=SpanKind.SERVER,
        attributes={
            "messaging.system": "nats",
            "messaging.destination.name": subject,
            "provisioning.service": service,
        },
    ) as span:
        yield span


def set_outcome(span: Span | None, outcome: str) -> None:
    if span is not None:
        _finish(span, outcome)


def consumer_span(
    consumer: str, subject: str, data: Mapping[str, Any], headers: Mapping[str, str]
) -> contextlib.AbstractContextManager[Span | None]:
    """The span of handling one event (its parent: the event's ``traceparent``)."""
    if not enabled():
        return _OFF
    return _consumer_span(consumer, subject, data, headers)


@contextlib.contextmanager
def _consumer_span(
    consumer: str, subject: str, data: Mapping[str, Any], headers: Mapping[str, str]
) -> Iterator[Span]:
    carrier = dict(headers)
    if "traceparent" not in carrier and isinstance(data.get("traceparent"), str):
        carrier["traceparent"] = data["traceparent"]
    with _tracer().start_as_current_span(
        f"{subject} process",
        context=propagate.extract(carrier),
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "nats",
            "messaging.destination.name": subject,
            "messaging.consumer.group.name": consumer,
            "provisioning.service": consumer.split("-", 1)[0],
        },
    ) as span:
        yield span


@contextlib.contextmanager
def client_span(
    name: str, service: str, parent: otel_context.Context | None = None, **attributes: Any
) -> Iterator[Span | None]:
    """A span for a call out (e.g. the SMTP send), under ``parent`` when given."""
    if not enabled():
        yield None
        return
    with _tracer().start_as_current_span(
        name,
        context=parent,
        kind=SpanKind.CLIENT,
        attributes={"provisioning.service": service, **attributes},
    ) as span:
        yield span


def current_traceparent() -> str | None:
    """The current span's ``traceparent`` (None when tracing is off or no span)."""
    if not enabled():
        return None
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def traceparent_in(payload: bytes) -> str | None:
    """The ``traceparent`` attribute of a serialised CloudEvent, without parsing it."""
    if b'"traceparent"' not in payload:
        return None
    m = _TRACEPARENT.search(payload)
    return m.group(1).decode() if m else None


class ContextMemo:
    """The trace context current when something was handed over, by key, for the code
    that picks it up later in this process (bounded; oldest forgotten first)."""

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._items: OrderedDict[str, otel_context.Context] = OrderedDict()

    def remember(self, key: str) -> None:
        if not enabled() or not key:
            return
        self._items[key] = otel_context.get_current()
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    def recall(self, key: str) -> otel_context.Context | None:
        return self._items.pop(key, None)
