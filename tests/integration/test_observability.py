"""Observability: /metrics, /healthz and /readyz over HTTP for every service, requests
counted by subject and outcome, the correlation id echoed, INFO audit lines without
secrets, one trace from a request through its events to the SMTP send
(docs/observability.md)."""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any

import nats.errors
import pytest
from devstack.ports import free_port
from nats.js.api import DeliverPolicy
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families
from shared.observability import mask_email
from shared.service import Service

from shared import tracing
from tests.integration.identity.conftest import entry, ready_account
from tests.support.system import System, email, eventually, uid

SERVICES = {
    "account": "account.v1.health",
    "identity": "identity.v1.health",
    "invite-scheduler": "invites.v1.health",
    "engage-import": "engage.v1.health",
}


@pytest.fixture(scope="module")
async def served(system: System) -> AsyncIterator[dict[str, Service]]:
    """One more instance of each service, with its HTTP endpoint on (metrics_port)."""
    started: dict[str, Service] = {}
    try:
        for name in SERVICES:
            started[name] = await system.start(name, metrics_port=free_port())
        yield started
    finally:
        for svc in started.values():
            await asyncio.wait_for(svc.app.stop(), 45)


def _get_sync(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return int(r.status), r.read().decode()
    except urllib.error.HTTPError as err:
        return int(err.code), err.read().decode()


async def get(svc: Service, path: str) -> tuple[int, str]:
    assert svc.http is not None, "the HTTP endpoint is off"
    return await asyncio.to_thread(_get_sync, f"http://127.0.0.1:{svc.http.port}{path}")


async def samples(svc: Service, name: str) -> list[tuple[dict[str, str], float]]:
    status, text = await get(svc, "/metrics")
    assert status == 200
    out = []
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name:
                out.append((dict(s.labels), float(s.value)))
    return out


async def test_every_service_answers_metrics_healthz_and_readyz(
    served: dict[str, Service],
) -> None:
    for name, svc in served.items():
        status, body = await get(svc, "/healthz")
        assert status == 200, (name, body)
        status, body = await get(svc, "/readyz")
        assert status == 200, (name, body)
        report = json.loads(body)
        assert report["service"] == name and report["status"] == "ok"
        assert report["database"] == "ok" and report["broker"] == "ok"
        status, text = await get(svc, "/metrics")
        assert status == 200
        for metric in (
            "provisioning_service_info",
            "provisioning_outbox_backlog",
            "provisioning_request_duration_seconds",
        ):
            assert metric in text, (name, metric)
        assert (await get(svc, "/nothing"))[0] == 404
    invites = (await get(served["invite-scheduler"], "/metrics"))[1]
    assert "provisioning_emails_sent_total" in invites
    assert "provisioning_scheduler_lag_seconds" in invites
    assert "provisioning_import_jobs" in (await get(served["engage-import"], "/metrics"))[1]


async def test_readyz_answers_503_while_the_service_is_not_ready(
    system: System, served: dict[str, Service]
) -> None:
    svc = served["account"]
    svc.started = False  # what health reports while the service starts or stops
    try:
        status, body = await get(svc, "/readyz")
        assert status == 503 and json.loads(body)["status"] == "starting"
        assert (await get(svc, "/healthz"))[0] == 200
    finally:
        svc.started = True


async def test_a_request_is_counted_by_subject_and_outcome(
    system: System, served: dict[str, Service]
) -> None:
    svc = served["identity"]
    subject = "identity.v1.users.get"

    async def counted() -> float:
        values = [
            v
            for labels, v in await samples(svc, "provisioning_requests_total")
            if labels == {"subject": subject, "outcome": "validation_failed"}
        ]
        return values[0] if values else 0.0

    before = await counted()
    token = system.token_for(uid("acc_"))
    # two instances share the queue group: ask until this one has answered one
    for _ in range(60):
        reply = await system.raw(subject, {"unknown_field": 1}, token=token)
        assert reply.error_code == "validation_failed"
        if await counted() > before:
            break
    assert await counted() >= before + 1
    latency = [
        v
        for labels, v in await samples(svc, "provisioning_request_duration_seconds_count")
        if labels.get("subject") == subject
    ]
    assert latency and latency[0] >= 1


async def test_the_correlation_id_is_echoed_in_the_reply(system: System) -> None:
    cid = uid("cid-")
    reply = await system.raw("account.v1.health", {}, headers={"X-Correlation-Id": cid})
    assert reply.headers.get("X-Correlation-Id") == cid
    bad = await system.raw(
        "account.v1.accounts.get", b"not json", headers={"X-Correlation-Id": cid}
    )
    assert bad.error_code and bad.headers.get("X-Correlation-Id") == cid
    made = await system.raw("account.v1.health", {})
    assert made.headers.get("X-Correlation-Id")


def _audit(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "audit"]


async def test_sign_ins_user_changes_and_invites_leave_info_audit_lines_without_secrets(
    system: System, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="audit")
    acc = await ready_account(system)
    token = await system.operator_token()
    mail = email("audited")
    password = "plum-orchard-93"
    cid = uid("cid-")
    added = await system.raw(
        "identity.v1.users.add",
        {
            "account_id": acc["id"],
            "users": [entry(mail, setup={"option": "send_invite"})],
        },
        token=token,
        headers={"X-Correlation-Id": cid},
    )
    user_id = added.body["users"][0]["id"]
    failed = await system.raw(
        "identity.v1.auth.login",
        {"email": mail, "password": password},
        headers={"X-Correlation-Id": cid + "-login"},
    )
    assert failed.error_code == "unauthenticated"
    ok = await system.raw(
        "identity.v1.auth.login",
        {"email": system.operator_email, "password": system.operator_password},
    )
    session_token = ok.body["token"]
    masked = mask_email(mail)
    await eventually(lambda: system.mail.messages_to(mail), timeout=20)
    lines = await eventually(
        lambda: (
            _audit(caplog)
            if any("invite email sent" in m and masked in m for m in _audit(caplog))
            else None
        ),
        timeout=20,
    )
    text = "\n".join(lines)
    added_line = next(m for m in lines if m.startswith("audit users added succeeded"))
    assert user_id in added_line and f"correlation_id={cid}" in added_line
    assert "setup=send_invite" in added_line
    failed_line = next(m for m in lines if f"correlation_id={cid}-login" in m)
    assert failed_line.startswith("audit sign-in failed:unauthenticated")
    assert mail not in failed_line and f"{mail[0]}***@" in failed_line
    assert any(m.startswith("audit sign-in succeeded") for m in lines)
    assert password not in text and system.operator_password not in text
    assert session_token not in text and token not in text
    assert mail not in text
    records = [r for r in caplog.records if r.name == "audit"]
    assert all(r.levelno == logging.INFO for r in records)
    structured: Any = records[0].__dict__["audit"]
    assert {"action", "outcome"} <= set(structured)


class _Spans(InMemorySpanExporter):
    """Keeps finished spans while this module runs; drops them afterwards (a tracer
    provider, once installed, stays for the whole process)."""

    active = True

    def export(self, spans: Any) -> SpanExportResult:
        if not self.active:
            return SpanExportResult.SUCCESS
        return super().export(spans)


@pytest.fixture(scope="module")
def spans() -> Iterator[_Spans]:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = _Spans()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.refresh()
    try:
        yield exporter
    finally:
        exporter.active = False
        exporter.clear()


async def test_one_users_add_with_send_invite_is_one_trace_to_the_smtp_send(
    system: System, spans: _Spans
) -> None:
    acc = await ready_account(system)
    token = await system.operator_token()
    mail = email("traced")
    added = await system.raw(
        "identity.v1.users.add",
        {"account_id": acc["id"], "users": [entry(mail, setup={"option": "send_invite"})]},
        token=token,
    )
    assert added.error_code is None, added.body
    await eventually(lambda: system.mail.messages_to(mail), timeout=20)

    def the_trace() -> set[tuple[str, str, SpanKind]] | None:
        finished = spans.get_finished_spans()
        roots = [
            s for s in finished if s.name == "identity.v1.users.add" and s.kind == SpanKind.SERVER
        ]
        if not roots:
            return None
        root = roots[-1]
        assert root.context is not None and root.parent is None
        seen = {
            (str((s.attributes or {}).get("provisioning.service")), s.name, s.kind)
            for s in finished
            if s.context is not None and s.context.trace_id == root.context.trace_id
        }
        return seen if ("invite-scheduler", "smtp send", SpanKind.CLIENT) in seen else None

    seen = await eventually(the_trace, timeout=20)
    assert ("identity", "identity.v1.users.add", SpanKind.SERVER) in seen
    assert (
        "invites",
        "events.identity.user.invite_requested process",
        SpanKind.CONSUMER,
    ) in seen, seen
    assert ("invite-scheduler", "smtp send", SpanKind.CLIENT) in seen


async def test_the_request_traceparent_is_the_parent_and_events_carry_it(
    system: System, spans: _Spans
) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    parent = f"00-{trace_id}-00f067aa0ba902b7-01"
    reply = await system.raw(
        "account.v1.accounts.create",
        {"name": f"Traced {uid()}", "country": "US", "plan": "ultra"},
        token=await system.operator_token(),
        headers={"traceparent": parent},
    )
    assert reply.error_code is None, reply.body
    span = next(
        s for s in reversed(spans.get_finished_spans()) if s.name == "account.v1.accounts.create"
    )
    assert span.context is not None and f"{span.context.trace_id:032x}" == trace_id
    assert span.parent is not None and f"{span.parent.span_id:016x}" == "00f067aa0ba902b7"
    # the account.created event: the traceparent in the CloudEvent and in the header
    js = system.harness_nc.jetstream()
    sub = await js.subscribe(
        "events.account.account.created", ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
    )
    try:

        async def found() -> Any:
            while True:
                try:
                    msg = await sub.next_msg(timeout=1)
                except nats.errors.TimeoutError:
                    return None
                ev = json.loads(msg.data)
                if (ev.get("data") or {}).get("account_id") == reply.body["id"]:
                    return msg

        msg = await eventually(found, timeout=20)
    finally:
        await sub.unsubscribe()
    ev = json.loads(msg.data)
    assert ev["traceparent"].split("-")[1] == trace_id
    assert (msg.headers or {})["traceparent"] == ev["traceparent"]


async def test_redeliveries_and_dead_letters_are_counted_per_consumer(system: System) -> None:
    from shared.contracts.events import CloudEvent
    from shared.observability import Metrics, iter_samples

    from tests.integration.test_messaging import Recorder, publish, start_runner

    svc = system.services["account"]
    subject = f"events.account.obs{uid()}.happened"
    rec = Recorder()
    rec.fail_times = 1
    runner, task = await start_runner(system, svc, subject, rec)
    runner.metrics = metrics = Metrics("account")
    name = runner.sub.name
    try:
        ev = CloudEvent(source="test", type="t", data={"x": 1})
        await publish(svc, subject, ev)  # fails once, then succeeds on its redelivery
        await svc.js.publish(subject, b"not json", headers={"Nats-Msg-Id": uid("bad-")})

        def counted(metric: str) -> float:
            return sum(
                v for labels, v in iter_samples(metrics, metric) if labels == {"consumer": name}
            )

        await eventually(lambda: rec.seen == [ev.id], timeout=15)
        await eventually(lambda: counted("provisioning_dead_letters_total") == 1, timeout=15)
        assert counted("provisioning_consumer_redeliveries_total") == 1
    finally:
        task.cancel()
