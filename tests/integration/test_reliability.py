"""Issue 10: nothing acknowledged is lost to a dependency outage; poison goes to a
dead letter that keeps no secret; health says why it is degraded.

The database is made unreachable for one service instance only: it reaches
PostgreSQL through a TCP proxy the test cuts (open connections closed, new ones
refused) and restores."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from account.config import AccountConfig
from account.main import ALEMBIC_INI
from alembic.config import Config
from alembic.script import ScriptDirectory
from shared.contracts.common import Empty, Ok
from shared.contracts.events import CloudEvent
from shared.db import UnitOfWork, database_url_for, migrate, to_plain_url
from shared.errors import AppError
from shared.messaging.client import call
from shared.messaging.consumer import ConsumerRunner, Delivery, Subscription
from shared.messaging.rpc import RpcRouter
from shared.messaging.tables import dead_letters
from shared.service import Service

from tests.support.infra import Infra
from tests.support.system import System, eventually, uid
from tests.support.tcp_proxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]
STREAM = "EVENTS_ACCOUNT"
FAST = (0.05, 0.1, 0.2)  # retry delays: many deliveries in little time


class Recorder:
    """Applies a message by writing its inbox row (done by the runner) and noting it."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.data: list[dict[str, Any]] = []
        self.published: list[Any] = []
        self.fail_with: Exception | None = None

    async def __call__(self, d: Delivery, uow: UnitOfWork) -> None:
        await uow.session.execute(sa.text("SELECT 1"))
        if self.fail_with is not None:
            raise self.fail_with
        self.seen.append(d.message_id)
        self.data.append(d.data)
        self.published.append(d.published_at)


@dataclass
class Proxied:
    svc: Service
    proxy: TcpProxy
    sub: Subscription
    rec: Recorder
    subject: str


def harness_auth(system: System) -> dict[str, Any]:
    """A made-up service and its ad-hoc consumers are outside the permission table:
    they connect as the test harness."""
    kw = system.nats_kwargs("harness")
    return {
        "nats_user": kw.get("user", ""),
        "nats_password": kw.get("password", ""),
        "nats_inbox_prefix": kw.get("inbox_prefix", "_INBOX"),
    }


@pytest.fixture
async def proxied(system: System) -> AsyncIterator[Proxied]:
    """A bare service on the account database, reached through a proxy, with one
    test consumer (small retry delays, max_deliver 2)."""
    proxy = TcpProxy.for_url(system.database_url)
    await proxy.start()
    name = f"rel{uuid.uuid4().hex[:8]}"
    settings = AccountConfig(
        **(
            system.config_kwargs("account")
            | harness_auth(system)
            | {"database_url": proxy.url(system.database_url), "migrate_on_start": False}
        )
    )
    svc = Service(
        name=name,
        queue=name,
        settings=settings,
        alembic_ini=ALEMBIC_INI,
        rpc=RpcRouter(name),
        owned_streams=[],
        health_subject=f"{name}.v1.health",
    )

    @svc.rpc.endpoint(f"{name}.v1.ping", Empty, Ok, public=True, summary="Reads the database.")
    async def ping(cmd: Empty, principal: Any) -> Ok:
        assert svc.sessions is not None
        async with svc.sessions() as s:
            await s.execute(sa.text("SELECT 1"))
        return Ok()

    rec = Recorder()
    subject = f"events.account.rel{uuid.uuid4().hex[:10]}.happened"
    sub = Subscription(
        name=f"test-{name}",
        stream=STREAM,
        filter_subjects=[subject],
        handler=rec,
        max_deliver=2,
        retry_delays=FAST,
        batch=10,
    )
    svc.subscribe(sub)
    await svc.app.start()
    await asyncio.wait_for(svc.runners[sub.name].ready.wait(), 10)
    try:
        yield Proxied(svc, proxy, sub, rec, subject)
    finally:
        await proxy.restore()
        await asyncio.wait_for(svc.app.stop(), 45)
        await proxy.close()
        await system.harness_nc.jetstream().delete_consumer(STREAM, sub.name)


async def publish(system: System, subject: str, data: dict[str, Any], **headers: str) -> str:
    ev = CloudEvent(source="test", type="t", data=data)
    await system.harness_nc.jetstream().publish(
        subject, ev.model_dump_json().encode(), headers={"Nats-Msg-Id": ev.id, **headers}
    )
    return ev.id


async def delivered(system: System, consumer: str) -> int:
    info = await system.harness_nc.jetstream().consumer_info(STREAM, consumer)
    return int(info.delivered.consumer_seq or 0)


async def dead_rows(svc: Service, consumer: str) -> list[Any]:
    assert svc.sessions is not None
    async with svc.sessions() as s:
        return list(
            (
                await s.execute(
                    sa.select(dead_letters)
                    .where(dead_letters.c.consumer == consumer)
                    .order_by(dead_letters.c.id)
                )
            ).all()
        )


async def test_a_database_outage_longer_than_max_deliver_loses_nothing(
    system: System, proxied: Proxied
) -> None:
    p = proxied
    await p.proxy.cut()
    ids = [await publish(system, p.subject, {"n": n}) for n in range(3)]
    bad_id = uuid.uuid4().hex
    await system.harness_nc.jetstream().publish(
        p.subject, b"not json", headers={"Nats-Msg-Id": bad_id}
    )
    # far more deliveries than max_deliver (2) for every message, the database still down
    await eventually(lambda: _at_least(delivered(system, p.sub.name), 4 * 8), timeout=60)

    health = await p.svc.health()
    assert health.status == "degraded", health
    reasons = " | ".join(health.details["reasons"])
    assert "database unreachable" in reasons
    assert f"consumer {p.sub.name} stalled" in reasons
    assert p.rec.seen == []
    # a request that needs the database is answered `unavailable` (a calling consumer
    # retries that), not `internal`
    with pytest.raises(AppError) as err:
        await call(system.harness_nc, f"{p.svc.name}.v1.ping", {})
    assert err.value.code == "unavailable"

    await p.proxy.restore()
    await eventually(lambda: sorted(p.rec.seen) == sorted(ids), timeout=30)
    # the unparseable one waited for the database too, and is a dead letter now
    rows = await eventually(lambda: dead_rows(p.svc, p.sub.name), timeout=30)
    assert len(rows) == 1 and rows[0].error.startswith("payload is not JSON")
    assert [r.message_id for r in rows] == [None]

    async def healthy() -> bool:
        return (await p.svc.health()).status == "ok"

    await eventually(healthy, timeout=30)
    # over NATS too
    body = await call(system.harness_nc, f"{p.svc.name}.v1.health", {})
    assert body["status"] == "ok" and "reasons" not in body["details"]
    info = await system.harness_nc.jetstream().consumer_info(STREAM, p.sub.name)
    assert info.num_ack_pending == 0 and info.num_pending == 0
    assert sorted(p.rec.seen) == sorted(ids)  # each once
    assert all(t is not None for t in p.rec.published)  # when JetStream stored it


async def _at_least(n: Any, want: int) -> bool:
    return bool(await n >= want)


async def test_poison_is_dead_lettered_with_secrets_redacted_and_replays_the_original(
    system: System, proxied: Proxied
) -> None:
    p = proxied
    secret = f"Sup3r-{uuid.uuid4().hex}"
    pin = "918273"
    answer = f"rex-{uuid.uuid4().hex[:6]}"
    bearer = f"eyJ{uuid.uuid4().hex}"
    p.rec.fail_with = RuntimeError(f"cannot apply user with password={secret} answer {answer}")
    data = {
        "user": {
            "email": "someone@example.com",
            "password": secret,
            "pin": pin,
            "security_answer": answer,
            "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$abc$def",
            "credentials": [{"token": bearer}],
        }
    }
    mid = await publish(system, p.subject, data, Authorization=f"Bearer {bearer}")
    rows = await eventually(lambda: dead_rows(p.svc, p.sub.name), timeout=30)
    assert len(rows) == 1
    row = rows[0]
    assert row.message_id == mid and row.error.startswith("RuntimeError: cannot apply user")
    stored = row.payload.decode() + json.dumps(row.headers) + row.error
    for s in (secret, pin, answer, bearer, "argon2id"):
        assert s not in stored, s
    assert "authorization" not in {k.lower() for k in row.headers}
    kept = json.loads(row.payload)
    assert kept["data"]["user"]["email"] == "someone@example.com"
    assert kept["data"]["user"]["password"] == "***"

    # the operator fixes the cause and replays: the handler gets the original message
    p.rec.fail_with = None
    assert await p.svc.runners[p.sub.name].replay(row.id) == (True, None)
    assert p.rec.seen == [mid]
    assert p.rec.data[0]["data"]["user"]["password"] == secret


@pytest.mark.parametrize("service", ["identity", "invite-scheduler"])
async def test_replicas_migrating_a_fresh_database_together_both_succeed(
    infra: Infra, service: str
) -> None:
    ini = ROOT / "services" / service / "alembic.ini"
    url = database_url_for(infra.database_url, f"{uid('mig')}_{service.replace('-', '_')}")
    await asyncio.gather(migrate(ini, url), migrate(ini, url), migrate(ini, url))
    conn = await asyncpg.connect(to_plain_url(url))
    try:
        versions = await conn.fetch("SELECT version_num FROM alembic_version")
    finally:
        await conn.close()
    cfg = Config(str(ini))
    cfg.set_main_option("script_location", str(ini.parent / "migrations"))
    assert [v["version_num"] for v in versions] == [
        ScriptDirectory.from_config(cfg).get_current_head()
    ]


DEBIAN_NATS = "nats://127.0.0.1:4222"


async def test_a_service_refuses_to_start_on_nats_older_than_2_10(system: System) -> None:
    """Debian's nats-server (2.9) where one runs on this machine; skipped elsewhere."""
    import nats
    from shared.messaging.server import UnsupportedServer, parse_version, server_version

    try:
        nc = await nats.connect(DEBIAN_NATS, connect_timeout=1, max_reconnect_attempts=0)
    except Exception:
        pytest.skip(f"no NATS server at {DEBIAN_NATS}")
    try:
        version = server_version(nc)
    finally:
        await nc.close()
    found = parse_version(version)
    if found is None or found[:2] >= (2, 10):
        pytest.skip(f"the server at {DEBIAN_NATS} is {version}, not an old one")
    svc = system.build("account", nats_url=DEBIAN_NATS, migrate_on_start=False)
    with pytest.raises(UnsupportedServer) as err:
        await svc.app.start()
    await asyncio.wait_for(svc.app.stop(), 30)
    assert version in str(err.value) and "2.10 or newer" in str(err.value)


async def test_a_restart_keeps_stream_limits_an_operator_changed_and_names_them(
    system: System, caplog: pytest.LogCaptureFixture
) -> None:
    """An operator shortens max_age by hand; a service start (a replica here) keeps it
    and warns; what configuration sets explicitly is applied."""
    js = system.harness_nc.jetstream()
    stream = "EVENTS_ENGAGE"
    original = (await js.stream_info(stream)).config
    changed = dataclasses.replace(original, max_age=3600.0)
    await js.update_stream(changed)
    try:
        caplog.set_level(logging.WARNING, logger="shared.messaging.streams")
        svc = await system.start("engage-import")
        await asyncio.wait_for(svc.app.stop(), 45)
        after = (await js.stream_info(stream)).config
        assert after.max_age == 3600.0
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any(
            f"stream {stream}: max_age is 3600s on the server" in w and "kept" in w
            for w in warnings
        ), warnings

        # what configuration sets is applied (and the rest still kept)
        svc = await system.start(
            "engage-import", streams={stream: {"max_bytes": 512 * 1024 * 1024}}
        )
        await asyncio.wait_for(svc.app.stop(), 45)
        after = (await js.stream_info(stream)).config
        assert after.max_bytes == 512 * 1024 * 1024 and after.max_age == 3600.0
    finally:
        await js.update_stream(original)


async def test_a_consumer_left_by_an_older_version_stops_giving_up(system: System) -> None:
    """A deployed durable consumer with a bounded max_deliver (and a hand-tuned
    max_ack_pending) is brought to unlimited deliveries at start; the tuning stays."""
    from nats.js.api import AckPolicy, ConsumerConfig

    js = system.harness_nc.jetstream()
    name = f"legacy-{uuid.uuid4().hex[:8]}"
    subject = f"events.account.rel{uuid.uuid4().hex[:10]}.happened"
    await js.add_consumer(
        STREAM,
        ConsumerConfig(
            durable_name=name,
            ack_policy=AckPolicy.EXPLICIT,
            max_deliver=11,
            max_ack_pending=4321,
            filter_subjects=[subject],
        ),
    )
    svc = system.services["account"]
    assert svc.sessions is not None
    sub = Subscription(name=name, stream=STREAM, filter_subjects=[subject], handler=Recorder())
    runner = ConsumerRunner(sub, js, svc.sessions, svc.uow)
    task = asyncio.create_task(runner.run())
    try:
        await asyncio.wait_for(runner.ready.wait(), 10)
        cfg = (await js.consumer_info(STREAM, name)).config
        assert cfg.max_deliver == -1 and cfg.max_ack_pending == 4321
    finally:
        runner.stop()
        task.cancel()
        await js.delete_consumer(STREAM, name)
