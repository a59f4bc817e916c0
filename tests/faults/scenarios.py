"""The faults: each runs while the mixed load runs, on its own fresh account, and is
then checked (tests/faults/check.py). ``SHORT`` runs inside ``make test``; ``make
test-faults`` runs them all (and the three-node NATS cluster, test_faults.py)."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from devstack.stack import SERVICES

from tests.faults.check import Result, check, quiesce, table
from tests.faults.harness import FaultStack
from tests.faults.load import Ledger, Workload

Inject = Callable[[FaultStack, Workload], Awaitable[None]]


@dataclass
class Fault:
    name: str
    inject: Inject
    what: str
    load_seconds: float = 12.0
    pause: float = 0.4  # between steps of the mixed load
    bound: int = 0  # re-sent emails tolerated (with the same link)
    replicas: int = 1
    deadline: float = 240.0


async def _kill_restart(fs: FaultStack, key: str, down: float = 1.0) -> None:
    fs.kill(key)
    await asyncio.sleep(down)
    fs.restart(key)


def sigkill(service: str | None) -> Inject:
    async def inject(fs: FaultStack, load: Workload) -> None:
        for _ in range(2):
            await asyncio.sleep(load.rng.uniform(1.0, 5.0))
            name = service or load.rng.choice(list(SERVICES))
            await _kill_restart(fs, load.rng.choice(fs.keys(name)))

    return inject


def invite_burst_kill(n: int) -> Inject:
    async def inject(fs: FaultStack, load: Workload) -> None:
        due = (datetime.now(UTC) + timedelta(seconds=30)).replace(microsecond=0)
        await load.burst(n, due)
        fs.note(f"{n} invites due at {due:%H:%M:%S}")
        wait = (due - datetime.now(UTC)).total_seconds() + load.rng.uniform(0.3, 1.2)
        await asyncio.sleep(max(0.0, wait))
        for key in fs.keys("invite-scheduler"):
            fs.kill(key)
        await asyncio.sleep(1.0)
        for key in (
            "invite-scheduler",
            *(f"invite-scheduler#{r}" for r in range(2, fs.replicas + 1)),
        ):
            fs.restart(key)

    return inject


def nats_restart(down: float) -> Inject:
    async def inject(fs: FaultStack, load: Workload) -> None:
        await asyncio.sleep(load.rng.uniform(2.0, 5.0))
        await fs.restart_nats(down)

    return inject


def postgres_down(down: float, backlog: bool) -> Inject:
    """PostgreSQL stopped for ``down`` seconds. With ``backlog``, engage-import is paused
    (SIGSTOP) for the two seconds before, so events wait for it when the database goes."""

    async def inject(fs: FaultStack, load: Workload) -> None:
        await asyncio.sleep(load.rng.uniform(2.0, 4.0))
        if backlog:
            fs.pause("engage-import")
            await asyncio.gather(
                load.add_users(["activate_later"] * 20), load.add_users(["send_invite"] * 5)
            )
            await asyncio.sleep(2.0)  # identity's relay publishes their events
        await fs.stop_postgres()
        if backlog:
            fs.resume("engage-import")
        await asyncio.sleep(down)
        await fs.start_postgres()

    return inject


def smtp(answer: str | None, seconds: float) -> Inject:
    async def inject(fs: FaultStack, load: Workload) -> None:
        await asyncio.sleep(3.0)  # the load's scheduled invites start coming due
        if answer is None:
            fs.smtp_down()
        else:
            fs.smtp_answer(answer)
        await asyncio.sleep(seconds)
        if answer is None:
            fs.smtp_up()
        else:
            fs.smtp_answer(None)

    return inject


SHORT = [
    Fault("sigkill random service", sigkill(None), "kill -9 of a random service, twice"),
    Fault(
        "sigkill scheduler in invite burst",
        invite_burst_kill(200),
        "200 invites due in one second; invite-scheduler killed 0.3-1.2 s after",
    ),
    Fault("nats restart", nats_restart(3.0), "nats-server killed (-9), restarted after 3 s"),
    Fault(
        "postgres down 45 s (engage backlog)",
        postgres_down(45.0, backlog=True),
        "PostgreSQL stopped 45 s while engage-import has a backlog",
        load_seconds=50.0,
    ),
]

FULL = [
    *(
        Fault(f"sigkill {s}", sigkill(s), f"kill -9 of {s} twice at random moments")
        for s in SERVICES
    ),
    Fault(
        "sigkill scheduler in invite burst",
        invite_burst_kill(1000),
        "1000 invites due in one second; invite-scheduler killed 0.3-1.2 s after",
    ),
    Fault("nats restart", nats_restart(3.0), "nats-server killed (-9), restarted after 3 s"),
    Fault("postgres down 5 s", postgres_down(5.0, backlog=False), "PostgreSQL stopped 5 s"),
    Fault(
        "postgres down 10 min",
        postgres_down(600.0, backlog=True),
        "PostgreSQL stopped 10 minutes under load",
        load_seconds=610.0,
        pause=2.0,
        deadline=900.0,
    ),
    Fault("smtp refusing 4xx", smtp("451 4.3.0 Try again later", 8.0), "SMTP answers 451 for 8 s"),
    Fault("smtp failing 5xx", smtp("554 5.7.1 Rejected", 4.0), "SMTP answers 554 for 4 s"),
    Fault("smtp down", smtp(None, 8.0), "SMTP server not listening for 8 s"),
    Fault(
        "two replicas, sigkill",
        sigkill(None),
        "every service twice; kill -9 of one replica",
        replicas=2,
    ),
]


SEND_CONCURRENCY = 50  # invite-scheduler's INVITES_SEND_CONCURRENCY (its default)
DISRUPTIONS = ("SIGKILL invite-scheduler", "SIGKILL nats", "PostgreSQL stopped")


def resend_bound(events: list[str]) -> int:
    """Emails that may go out twice (with the same link): those in flight at each
    crash of the scheduler or outage of what records a send."""
    return SEND_CONCURRENCY * sum(1 for e in events if any(d in e for d in DISRUPTIONS))


async def run_fault(fs: FaultStack, fault: Fault, run_dir: Path, seed: int) -> Result:
    """Set up a fresh account, run the load with the fault injected, wait for
    quiescence, check; the ledger, events and rows go to ``run_dir/<fault>/``."""
    here = run_dir / fault.name.replace(" ", "-").replace("/", "-")
    here.mkdir(parents=True, exist_ok=True)
    fs.events.clear()
    fs.note(f"fault {fault.name!r}, seed {seed}")
    if fault.replicas > 1:
        fs.start_replicas(fault.replicas)
        await fs.wait_healthy()
    try:
        load = Workload(fs, Ledger(here / "ledger.jsonl"), random.Random(seed))
        await load.setup()
        loader = asyncio.create_task(load.run(fault.pause))
        try:
            await asyncio.gather(fault.inject(fs, load), asyncio.sleep(fault.load_seconds))
        finally:
            load.stop.set()
            await loader
        fs.revive_dead()
        await load.settle_calls()
        quiet = await quiesce(fs, load.account_id, quiet=15.0, deadline=fault.deadline)
        fs.note("quiescent" if quiet else "still changing at the deadline")
        res = await check(fs, load, fault.name, bound=fault.bound or resend_bound(fs.events))
        res.quiescent = quiet
    finally:
        if fault.replicas > 1:
            fs.stop_replicas()
    (here / "events.log").write_text("\n".join(fs.events) + "\n")
    (here / "result.json").write_text(json.dumps([asdict(r) for r in res.rows], indent=2))
    (here / "table.md").write_text(table(res.rows) + "\n")
    print("\n" + table(res.rows), flush=True)
    return res
