"""Every service instance answers NATS's service discovery ($SRV.PING / $SRV.INFO,
shared.discovery): name, version, its endpoints, where its metrics are."""

from __future__ import annotations

import asyncio
import json
from typing import Any

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
