"""The messaging kit against a real JetStream and PostgreSQL: transactional
outbox, idempotent inbox, delayed retry and dead letters."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import sqlalchemy as sa
from nats.js.api import ConsumerConfig, DeliverPolicy
from shared.contracts.events import CloudEvent
from shared.db import UnitOfWork
from shared.messaging.consumer import ConsumerRunner, Delivery, Poison, Subscription
from shared.messaging.outbox import make_event
from shared.messaging.tables import dead_letters, inbox, outbox
from shared.service import Service

from tests.support.system import System, eventually


def account_service(system: System) -> Service:
    return system.services["account"]


def fresh_subject() -> str:
    return f"events.account.test{uuid.uuid4().hex[:10]}.happened"


async def stream_messages(system: System, subject: str, wait: float = 1.0) -> list[Any]:
    """Everything on the account stream under ``subject``, read by an ephemeral consumer
    (on the harness connection: the account service may create only its own consumers)."""
    sub = await system.harness_nc.jetstream().pull_subscribe(
        subject, stream="EVENTS_ACCOUNT", config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
    )
    try:
        msgs = await sub.fetch(100, timeout=wait)
    except Exception:
        msgs = []
    await sub.unsubscribe()
    return msgs


async def test_outbox_event_is_published_after_commit_with_its_id(system: System) -> None:
    svc = account_service(system)
    subject = fresh_subject()
    ev = make_event("account", subject, {"n": 1}, key="k1")
    async with svc.uow() as uow:
        uow.add_event(ev)
        await uow.commit()
    msgs = await eventually(lambda: stream_messages(system, subject))
    assert len(msgs) == 1
    assert msgs[0].headers["Nats-Msg-Id"] == ev.event.id
    body = json.loads(msgs[0].data)
    assert body["id"] == ev.event.id and body["type"] == subject.removeprefix("events.")
    assert body["specversion"] == "1.0" and body["source"] == "account" and body["time"]

    async def marked() -> bool:
        assert svc.sessions is not None
        async with svc.sessions() as s:
            at = (
                await s.execute(
                    sa.select(outbox.c.published_at).where(outbox.c.event_id == ev.event.id)
                )
            ).scalar()
        return at is not None

    await eventually(marked)


async def test_nothing_is_published_when_the_transaction_rolls_back(system: System) -> None:
    svc = account_service(system)
    subject = fresh_subject()
    ev = make_event("account", subject, {"n": 1})
    async with svc.uow() as uow:
        uow.add_event(ev)
        # leaving without commit() rolls back
    async with svc.uow() as uow:
        uow.add_event(make_event("account", subject, {"n": 2}))
        await uow.commit()  # a later event does go out: the relay is alive
    msgs = await eventually(lambda: stream_messages(system, subject))
    assert [json.loads(m.data)["data"]["n"] for m in msgs] == [2]
    assert svc.sessions is not None
    async with svc.sessions() as s:
        count = (
            await s.execute(sa.select(sa.func.count()).where(outbox.c.event_id == ev.event.id))
        ).scalar()
    assert count == 0


async def test_relay_crash_between_publish_and_mark_is_deduplicated(system: System) -> None:
    """Publishing the same outbox row twice (as after a crash before marking it sent)
    leaves one message on the stream: Nats-Msg-Id is the event id."""
    svc = account_service(system)
    subject = fresh_subject()
    ev = make_event("account", subject, {"n": 1})
    async with svc.uow() as uow:
        uow.add_event(ev)
        await uow.commit()
    await eventually(lambda: stream_messages(system, subject))
    assert svc.sessions is not None and svc.relay is not None
    async with svc.sessions() as s, s.begin():
        await s.execute(
            sa.update(outbox).where(outbox.c.event_id == ev.event.id).values(published_at=None)
        )
    svc.relay.wake()
    await asyncio.sleep(0.5)
    msgs = await stream_messages(system, subject)
    assert len(msgs) == 1


class Recorder:
    def __init__(self) -> None:
        self.seen: list[str] = []
        self.fail_times = 0
        self.poison = False

    async def __call__(self, d: Delivery, uow: UnitOfWork) -> None:
        if self.poison:
            raise Poison("this message can never succeed")
        if self.fail_times > 0:
            self.fail_times -= 1
            raise RuntimeError("transient fault")
        self.seen.append(d.message_id)


async def start_runner(
    system: System, svc: Service, subject: str, handler: Recorder, **kw: Any
) -> tuple[ConsumerRunner, asyncio.Task[None]]:
    sub = Subscription(
        name=f"test-{uuid.uuid4().hex[:10]}",
        stream="EVENTS_ACCOUNT",
        filter_subjects=[subject],
        handler=handler,
        **kw,
    )
    assert svc.sessions is not None
    # a test consumer, on the harness connection (the service's user may create only
    # its own durable consumers)
    runner = ConsumerRunner(sub, system.harness_nc.jetstream(), svc.sessions, svc.uow)
    task = asyncio.create_task(runner.run())
    await asyncio.wait_for(runner.ready.wait(), 10)
    return runner, task


async def publish(svc: Service, subject: str, event: CloudEvent, msg_id: str | None = None) -> None:
    await svc.js.publish(
        subject, event.model_dump_json().encode(), headers={"Nats-Msg-Id": msg_id or event.id}
    )


async def test_inbox_drops_a_republished_event(system: System) -> None:
    svc = account_service(system)
    subject = fresh_subject()
    rec = Recorder()
    runner, task = await start_runner(system, svc, subject, rec)
    try:
        ev = CloudEvent(source="test", type="t", data={"x": 1})
        await publish(svc, subject, ev)
        # the same event again, outside JetStream's dedupe window (another msg id)
        await publish(svc, subject, ev, msg_id=f"{ev.id}-again")
        await eventually(lambda: rec.seen == [ev.id])
        await asyncio.sleep(0.5)
        assert rec.seen == [ev.id]
        assert svc.sessions is not None
        async with svc.sessions() as s:
            rows = (
                await s.execute(sa.select(inbox).where(inbox.c.consumer == runner.sub.name))
            ).all()
        assert len(rows) == 1
    finally:
        task.cancel()


async def test_redelivery_after_a_lost_ack_changes_nothing(
    system: System, monkeypatch: Any
) -> None:
    """The effect committed but the ack never reached the server (crash): JetStream
    redelivers after ack_wait, the inbox recognises it, it is acked, once."""
    svc = account_service(system)
    subject = fresh_subject()
    rec = Recorder()
    from nats.aio.msg import Msg

    real_ack = Msg.ack
    dropped: list[str] = []

    async def lossy_ack(self: Msg) -> None:
        if not dropped:
            dropped.append(self.subject)
            return
        await real_ack(self)

    monkeypatch.setattr(Msg, "ack", lossy_ack)
    runner, task = await start_runner(system, svc, subject, rec, ack_wait=1.0)
    try:
        ev = CloudEvent(source="test", type="t", data={"x": 1})
        await publish(svc, subject, ev)
        await eventually(lambda: dropped)
        await asyncio.sleep(2.5)  # ack_wait passes: redelivered and acked this time
        assert rec.seen == [ev.id]
        info = await system.harness_nc.jetstream().consumer_info("EVENTS_ACCOUNT", runner.sub.name)
        assert info.num_ack_pending == 0 and info.num_pending == 0
        assert info.delivered.consumer_seq >= 2
    finally:
        task.cancel()


async def test_transient_failure_is_retried_then_succeeds(system: System) -> None:
    svc = account_service(system)
    subject = fresh_subject()
    rec = Recorder()
    rec.fail_times = 1
    _, task = await start_runner(system, svc, subject, rec)
    try:
        ev = CloudEvent(source="test", type="t", data={"x": 1})
        await publish(svc, subject, ev)
        await eventually(lambda: rec.seen == [ev.id], timeout=10)
    finally:
        task.cancel()


async def test_poison_message_is_dead_lettered_and_replayable_by_an_operator(
    system: System,
) -> None:
    svc = account_service(system)
    subject = fresh_subject()
    rec = Recorder()
    rec.poison = True
    runner, task = await start_runner(system, svc, subject, rec)
    svc.runners[runner.sub.name] = runner
    try:
        ev = CloudEvent(source="test", type="t", data={"x": 1})
        await publish(svc, subject, ev)
        await svc.js.publish(subject, b"not json at all", headers={"Nats-Msg-Id": uuid.uuid4().hex})
        token = await system.operator_token()

        async def listed() -> list[dict[str, Any]]:
            page = await system.call(
                "account.v1.dead_letters.list", {"consumer": runner.sub.name}, token=token
            )
            return page["items"] if len(page["items"]) == 2 else []

        items = await eventually(listed)
        assert {i["error"].split(":")[0] for i in items} == {
            "this message can never succeed",
            "payload is not JSON",
        }
        poisoned = next(i for i in items if i["message_id"] == ev.id)
        rec.poison = False
        result = await system.call(
            "account.v1.dead_letters.replay", {"id": poisoned["id"]}, token=token
        )
        assert result == {"id": poisoned["id"], "replayed": True, "error": None}
        assert rec.seen == [ev.id]
        # only operators may see dead letters
        admin = system.token_for("acc_whatever")
        await system.expect_error("forbidden", "account.v1.dead_letters.list", {}, token=admin)
        assert svc.sessions is not None
        async with svc.sessions() as s:
            left = (
                await s.execute(
                    sa.select(sa.func.count()).where(
                        dead_letters.c.consumer == runner.sub.name,
                        dead_letters.c.replayed_at.is_(None),
                    )
                )
            ).scalar()
        assert left == 1
    finally:
        svc.runners.pop(runner.sub.name, None)
        task.cancel()


async def test_an_unhandled_error_becomes_an_internal_reply_not_a_timeout(system: System) -> None:
    from shared.contracts.common import Empty

    svc = account_service(system)

    async def boom(cmd: Empty, principal: Any) -> Any:
        raise RuntimeError("kaboom with a secret=hunter2")

    ep = svc.rpc.endpoints["account.v1.health"]
    original = ep.handler
    ep.handler = boom
    try:
        reply = await system.raw("account.v1.health", {}, timeout=3)
    finally:
        ep.handler = original
    assert reply.error_code == "internal"
    assert reply.headers["Nats-Service-Error-Code"] == "500"
    assert "kaboom" not in json.dumps(reply.body) and "hunter2" not in json.dumps(reply.body)
    assert reply.body["error"]["details"]["correlation_id"]
