"""Service scenarios: users.add throughput, invites due at once, scheduler lateness,
engage import. Each prints its figure next to its target."""

from __future__ import annotations

import asyncio
import functools
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.core import Bench, pct, scenario


def _entry(i: int, tag: str) -> dict[str, Any]:
    return {
        "first_name": "Bench",
        "last_name": f"User{i}",
        "email": f"b{tag}.{i}@bench.example.com",
        "user_type": "mobile",
        "setup": {"option": "activate_later"},
    }


async def _accounts(b: Bench, token: str, n: int, tag: str) -> list[str]:
    ids = []
    for _ in range(n):
        acc = await b.req(
            "account.v1.accounts.create",
            {
                "name": f"{tag} {uuid.uuid4().hex[:6]}",
                "country": "US",
                "plan": "ultra",
                "extension_length": 6,
            },
            token,
        )
        ids.append(acc["id"])
    await asyncio.sleep(1.0)  # identity learns the accounts from their events
    return ids


@scenario("users_add")
async def users_add(b: Bench) -> dict[str, Any]:
    """identity.v1.users.add, 25 users a request, 8 clients, for 60 s (target 5,000
    users/s sustained), then until every projection (account, invite-scheduler,
    engage-import) has applied every event identity published."""
    token = await b.operator()
    clients, seconds = 8, b.size(60, 5)
    accounts = await _accounts(b, token, clients, "Bench")
    lat: list[float] = []
    added = [0]

    async def client(n: int, until: float) -> None:
        r = 0
        while time.perf_counter() < until:
            r += 1
            tag = f"{n}x{r}x{uuid.uuid4().hex[:6]}"
            users = [_entry(i, tag) for i in range(25)]
            t = time.perf_counter()
            await b.req(
                "identity.v1.users.add", {"account_id": accounts[n], "users": users}, token, 60
            )
            lat.append(time.perf_counter() - t)
            added[0] += 25

    await client(0, time.perf_counter() + 1.0)  # warm up
    await b.consumers_idle("EVENTS_IDENTITY")
    lat.clear()
    added[0] = 0
    t0 = time.perf_counter()
    await asyncio.gather(*(client(n, t0 + seconds) for n in range(clients)))
    took = time.perf_counter() - t0
    applied_after = await b.consumers_idle("EVENTS_IDENTITY")
    return {
        "users": added[0],
        "seconds": round(took, 1),
        "users_per_s": round(added[0] / took),
        "request_p50_ms": round(pct(lat, 0.5) * 1000, 1),
        "request_p99_ms": round(pct(lat, 0.99) * 1000, 1),
        "projections_done_after_s": round(applied_after, 1),
        "users_per_s_with_projections": round(added[0] / (took + applied_after)),
        "target_users_per_s": 5000,
    }


async def _timed(n: int, fn: Callable[[], Awaitable[Any]]) -> float:
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        await fn()
        ts.append(time.perf_counter() - t)
    return round(pct(ts, 0.5) * 1000, 2)


@scenario("growth")
async def growth(b: Bench) -> dict[str, Any]:
    """How users.list (first page of 50), a users.list search and a users.add of 25 grow
    with the number of users in one account: at 1k, 10k and 100k users (p50 ms)."""
    token = await b.operator()
    (account,) = await _accounts(b, token, 1, "Growth")
    steps = [1000, 10000, 100000] if not b.smoke else [100, 500]
    have, out = 0, {}

    async def add(tag: str) -> None:
        users = [_entry(i, tag) for i in range(25)]
        await b.req("identity.v1.users.add", {"account_id": account, "users": users}, token, 60)

    async def filler(n: int, target: int) -> None:
        nonlocal have
        while have < target:
            have += 25
            await add(f"g{n}x{have}x{uuid.uuid4().hex[:6]}")

    for step in steps:
        await asyncio.gather(*(filler(n, step) for n in range(4)))
        listing = {"account_id": account, "limit": 50}
        search = {"account_id": account, "limit": 50, "query": f"User{step % 25}"}
        users_list = functools.partial(b.req, "identity.v1.users.list")
        out[f"at_{have}"] = {
            "list_p50_ms": await _timed(20, functools.partial(users_list, listing, token)),
            "search_p50_ms": await _timed(20, functools.partial(users_list, search, token)),
            "add_25_p50_ms": await _timed(10, lambda: add(f"t{uuid.uuid4().hex[:8]}")),
        }
        have += 250
    return out


async def _publish_event(b: Bench, subject: str, data: dict[str, Any]) -> None:
    event_id = str(uuid.uuid4())
    envelope = {
        "specversion": "1.0",
        "id": event_id,
        "source": "identity",
        "type": subject.removeprefix("events."),
        "time": datetime.now(UTC).isoformat(),
        "data": data,
    }
    await b.js.publish(subject, json.dumps(envelope).encode(), headers={"Nats-Msg-Id": event_id})


async def _sent_counter(b: Bench, account_id: str) -> tuple[dict[str, Any], Any]:
    """Count ``invite.sent`` events of one account, with the moment each arrived."""
    seen: dict[str, Any] = {"n": 0, "times": []}

    async def cb(msg: Any) -> None:
        body = json.loads(msg.data)
        if body.get("data", {}).get("account_id") == account_id:
            seen["n"] += 1
            seen["times"].append((time.time(), body["data"].get("send_at")))

    sub = await b.harness.subscribe("events.invites.invite.sent", cb=cb)
    return seen, sub


@scenario("invites_burst")
async def invites_burst(b: Bench) -> dict[str, Any]:
    """20,000 invites due at the same moment, all handed to SMTP within 20 s, none twice."""
    token = await b.operator()
    count = b.size(20000, 200)
    acc = await b.req(
        "account.v1.accounts.create", {"name": "Burst Co", "country": "US", "plan": "ultra"}, token
    )
    due = (datetime.now(UTC) + timedelta(seconds=b.size(75, 10))).replace(microsecond=0)
    seen, sub = await _sent_counter(b, acc["id"])
    sem = asyncio.Semaphore(500)

    async def one(i: int) -> None:
        async with sem:
            await _publish_event(
                b,
                "events.identity.user.invite_requested",
                {
                    "user_id": f"usr_burst{i}_{uuid.uuid4().hex[:8]}",
                    "account_id": acc["id"],
                    "email": f"burst.{i}.{uuid.uuid4().hex[:6]}@bench.example.com",
                    "first_name": "Burst",
                    "last_name": str(i),
                    "option": "schedule_invite",
                    "local_send_at": due.strftime("%Y-%m-%dT%H:%M:%S"),
                    "time_zone": "UTC",
                    "send_at": due.isoformat(),
                },
            )

    await asyncio.gather(*(one(i) for i in range(count)))
    ready_at = time.time()
    deadline = due.timestamp() + b.size(120, 60)
    while seen["n"] < count and time.time() < deadline:
        await asyncio.sleep(0.5)
    await sub.unsubscribe()
    last = max((t for t, _ in seen["times"]), default=float("nan"))
    return {
        "invites": count,
        "sent": seen["n"],
        "queued_before_due_s": round(due.timestamp() - ready_at, 1),
        "all_sent_after_due_s": round(last - due.timestamp(), 1),
        "target_s": 20,
    }


@scenario("scheduler_lateness")
async def scheduler_lateness(b: Bench, rate: int = 100) -> dict[str, Any]:
    """Invites due at a steady 100/s: how late each is sent (target p99 < 0.5 s)."""
    token = await b.operator()
    seconds = b.size(20, 3)
    acc = await b.req(
        "account.v1.accounts.create", {"name": "Steady Co", "country": "US", "plan": "ultra"}, token
    )
    start = datetime.now(UTC) + timedelta(seconds=b.size(30, 8))
    seen, sub = await _sent_counter(b, acc["id"])
    n = rate * seconds
    sem = asyncio.Semaphore(500)

    async def one(i: int) -> None:
        due = start + timedelta(seconds=i / rate)
        async with sem:
            await _publish_event(
                b,
                "events.identity.user.invite_requested",
                {
                    "user_id": f"usr_steady{i}_{uuid.uuid4().hex[:8]}",
                    "account_id": acc["id"],
                    "email": f"steady.{i}.{uuid.uuid4().hex[:6]}@bench.example.com",
                    "first_name": "Steady",
                    "last_name": str(i),
                    "option": "schedule_invite",
                    "local_send_at": due.strftime("%Y-%m-%dT%H:%M:%S"),
                    "time_zone": "UTC",
                    "send_at": due.isoformat(),
                },
            )

    await asyncio.gather(*(one(i) for i in range(n)))
    deadline = start.timestamp() + seconds + 60
    while seen["n"] < n and time.time() < deadline:
        await asyncio.sleep(0.5)
    await sub.unsubscribe()
    late = [t - datetime.fromisoformat(s).timestamp() for t, s in seen["times"] if s]
    return {
        "invites": n,
        "sent": seen["n"],
        "lateness_p50_s": round(pct(late, 0.5), 3) if late else None,
        "lateness_p99_s": round(pct(late, 0.99), 3) if late else None,
        "target_p99_s": 0.5,
        "note": "send_at has second precision (local times are whole seconds)",
    }


@scenario("engage_import")
async def engage_import(b: Bench) -> dict[str, Any]:
    """An Engage import of 10,000 users (target 5 s), timed from the import request to
    the job's ``finished``."""
    token = await b.operator()
    count = b.size(10000, 200)
    acc = await b.req(
        "account.v1.accounts.create", {"name": "Import Co", "country": "US", "plan": "ultra"}, token
    )
    user_ids = [f"usr_imp{i}_{uuid.uuid4().hex[:8]}" for i in range(count)]
    sem = asyncio.Semaphore(500)

    async def one(i: int, user_id: str) -> None:
        async with sem:
            await _publish_event(
                b,
                "events.identity.user.added",
                {
                    "user_id": user_id,
                    "account_id": acc["id"],
                    "extension_id": f"ext_{i}",
                    "extension_number": str(10000 + i),
                    "status": "Enabled",
                    "first_name": "Imp",
                    "last_name": f"User{i}",
                    "email": f"imp.{i}.{uuid.uuid4().hex[:6]}@bench.example.com",
                    "user_type": "standard",
                    "site_id": None,
                    "cost_center_id": None,
                    "role": "Standard User (International)",
                    "job_title": None,
                    "department": None,
                    "regional": {
                        "language": "en-US",
                        "greeting_language": "en-US",
                        "regional_format": "en-US",
                        "time_zone": "America/New_York",
                    },
                    "needs_emergency_location": False,
                    "must_change_password": False,
                    "version": 1,
                    "setup_option": "assign_credentials",
                },
            )

    await asyncio.gather(*(one(i, u) for i, u in enumerate(user_ids)))
    link = await b.req(
        "engage.v1.links.create",
        {"engage_account": {"name": "Bench CC"}, "account_id": acc["id"]},
        token,
    )
    eid = link["engage_account_id"]
    # wait until the directory projection holds every user
    deadline = time.time() + 180
    while time.time() < deadline:
        page = await b.req(
            "engage.v1.candidates.list",
            {"engage_account_id": eid, "limit": 1, "query": f"User{count - 1}"},
            token,
        )
        if page["items"]:
            break
        await asyncio.sleep(1)
    t0 = time.perf_counter()
    job = await b.req(
        "engage.v1.agents.import",
        {"engage_account_id": eid, "user_ids": user_ids, "role_id": "agent", "results_limit": 0},
        token,
        60,
    )
    while job["status"] != "finished" and time.perf_counter() - t0 < 300:
        await asyncio.sleep(0.2)
        job = await b.req(
            "engage.v1.imports.get",
            {"engage_account_id": eid, "import_id": job["id"], "results_limit": 0},
            token,
        )
    return {
        "users": count,
        "imported": job["counts"]["imported"],
        "status": job["status"],
        "seconds": round(time.perf_counter() - t0, 1),
        "target_s": 5,
    }


@scenario("flood")
async def flood(b: Bench) -> dict[str, Any]:
    """Authenticated users.get and health while 1,500 bogus activation.complete and 600
    bogus logins are in flight (target: p99 under 100 ms)."""
    token = await b.operator()
    acc = await b.req(
        "account.v1.accounts.create",
        {"name": f"Flood {uuid.uuid4().hex[:6]}", "country": "US", "plan": "ultra"},
        token,
    )
    await asyncio.sleep(1.0)  # identity learns the account from its event
    user = (
        await b.req(
            "identity.v1.users.add",
            {"account_id": acc["id"], "users": [_entry(0, uuid.uuid4().hex[:8])]},
            token,
        )
    )["users"][0]
    get_body = json.dumps({"account_id": acc["id"], "user_id": user["id"]}).encode()
    headers = {"Authorization": f"Bearer {token}"}

    async def sample(n: int) -> tuple[list[float], list[float]]:
        gets, healths = [], []
        for _ in range(n):
            t = time.perf_counter()
            await b.nc.request("identity.v1.users.get", get_body, timeout=30, headers=headers)
            gets.append(time.perf_counter() - t)
            t = time.perf_counter()
            await b.nc.request("identity.v1.health", b"{}", timeout=30)
            healths.append(time.perf_counter() - t)
        return gets, healths

    samples = b.size(200, 30)
    quiet_gets, quiet_healths = await sample(samples)
    codes: dict[str, int] = {}

    async def bogus(subject: str, body: dict[str, Any]) -> None:
        try:
            msg = await b.nc.request(subject, json.dumps(body).encode(), timeout=60)
            data = json.loads(msg.data)
            err = data.get("error") if isinstance(data, dict) else None
            key = (err.get("details", {}).get("reason") or err["code"]) if err else "ok"
        except Exception as exc:
            key = type(exc).__name__
        codes[key] = codes.get(key, 0) + 1

    flood_tasks = [
        asyncio.create_task(
            bogus(
                "identity.v1.activation.complete",
                {"token": uuid.uuid4().hex + uuid.uuid4().hex, "password": "copper-kettle-58"},
            )
        )
        for _ in range(b.size(1500, 150))
    ] + [
        asyncio.create_task(
            bogus(
                "identity.v1.auth.login",
                {"email": f"nobody.{i}.{uuid.uuid4().hex[:6]}@example.com", "password": "wrong"},
            )
        )
        for i in range(b.size(600, 60))
    ]
    await asyncio.sleep(0.2)  # the flood is in flight
    t0 = time.perf_counter()
    gets, healths = await sample(samples)
    sampled_s = time.perf_counter() - t0
    in_flight_after = sum(1 for t in flood_tasks if not t.done())
    await asyncio.gather(*flood_tasks)
    return {
        "quiet_users_get_p99_ms": round(pct(quiet_gets, 0.99) * 1000, 1),
        "quiet_health_p99_ms": round(pct(quiet_healths, 0.99) * 1000, 1),
        "flood_users_get_p50_ms": round(pct(gets, 0.5) * 1000, 1),
        "flood_users_get_p99_ms": round(pct(gets, 0.99) * 1000, 1),
        "flood_health_p99_ms": round(pct(healths, 0.99) * 1000, 1),
        "sampled_for_s": round(sampled_s, 1),
        "flood_still_in_flight_after_sampling": in_flight_after,
        "flood_replies": codes,
        "target_p99_ms": 100,
    }
