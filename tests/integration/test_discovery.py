"""Every service instance answers NATS's service discovery ($SRV.PING / $SRV.INFO,
shared.discovery): name, version, its endpoints, where its metrics are."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from shared.errors import AppError

from shared import subjects as s
from tests.support.system import System


async def gather(system: System, subject: str, wait: float = 0.5) -> list[dict[str, Any]]:
    nc = system.client_nc
    inbox = nc.new_inbox()
    got: list[dict[str, Any]] = []

    async def collect(msg: Any) -> None:
        got.append(json.loads(msg.data))

    sub = await nc.subscribe(inbox, cb=collect)
    try:
        await nc.publish(subject, b"", reply=inbox)
        await asyncio.sleep(wait)
    finally:
        await sub.unsubscribe()
    return got


async def test_every_service_answers_ping_and_info_as_the_client(system: System) -> None:
    pings = await gather(system, "$SRV.PING")
    names = {p["name"] for p in pings}
    assert {"account", "identity", "invite-scheduler", "engage-import"} <= names
    assert all(p["type"] == "io.nats.micro.v1.ping_response" and p["id"] for p in pings)

    [info] = await gather(system, "$SRV.INFO.identity")
    assert info["type"] == "io.nats.micro.v1.info_response"
    assert info["version"] == system.services["identity"].settings.version
    subjects = {e["subject"] for e in info["endpoints"]}
    assert s.USERS_ADD in subjects and s.AUTH_LOGIN in subjects
    assert {e["queue_group"] for e in info["endpoints"]} == {"identity"}

    # one instance by its id
    [again] = await gather(system, f"$SRV.INFO.identity.{info['id']}")
    assert again["id"] == info["id"]


async def test_every_service_answers_stats_with_its_endpoints_counts(system: System) -> None:
    """``$SRV.STATS`` (NATS micro, ADR-32): per endpoint, requests, errors, the last
    error and processing time, so standard NATS tooling (``nats micro stats``) reads them."""
    token = await system.operator_token()
    with contextlib.suppress(AppError):
        await system.call(s.ACCOUNTS_GET, {"account_id": "acc_missing"}, token=token)
    await system.call(s.ACCOUNTS_LIST, {}, token=token)
    stats = await gather(system, "$SRV.STATS")
    assert {"account", "identity", "invite-scheduler", "engage-import"} <= {
        x["name"] for x in stats
    }
    [acc] = await gather(system, "$SRV.STATS.account")
    assert acc["type"] == "io.nats.micro.v1.stats_response"
    assert acc["started"]
    by_subject = {e["subject"]: e for e in acc["endpoints"]}
    got = by_subject[s.ACCOUNTS_GET]
    assert got["num_requests"] >= 1 and got["num_errors"] >= 1
    assert got["last_error"]
    assert got["processing_time"] > 0 and got["average_processing_time"] > 0
    listed = by_subject[s.ACCOUNTS_LIST]
    assert listed["num_requests"] >= 1 and listed["queue_group"] == "account"
