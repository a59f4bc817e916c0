"""Issue 10: a scheduler that dies during a burst of due invites, between the SMTP
server accepting mails and recording them, re-sends at most the mails in flight
(``send_concurrency``), each with the same link and ``Message-ID``, and every
mailed link works, before and after the re-send."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from invite_scheduler.main import dispatcher_of
from invite_scheduler.scheduler import Dispatcher

from shared import subjects as s
from tests.integration.invites.support import (
    fetch,
    mails_to,
    new_world,
    redeem,
    replica,
    shared_scheduler_paused,
    token_in,
)
from tests.support.system import System, eventually

INVITES = 24
CONCURRENCY = 4
RECORDED_BEFORE_CRASH = 6
LEASE = 2.0


def crash_after(dispatcher: Dispatcher, n: int) -> asyncio.Event:
    """The process 'dies' after ``n`` outcomes are recorded: from then on every sending
    slot that gets an answer from the SMTP server hangs before recording it, until the
    service is stopped (nothing more is written, as after SIGKILL)."""
    crashed = asyncio.Event()
    real = dispatcher._record
    done = 0

    async def record(outcome: Any, lease_id: str) -> bool:
        nonlocal done
        if done < n:
            done += 1
            return await real(outcome, lease_id)
        crashed.set()
        await asyncio.Event().wait()  # never: cancelled by the stop
        return False

    dispatcher._record = record  # type: ignore[method-assign]
    return crashed


async def test_a_crash_mid_burst_resends_only_mails_in_flight_with_the_same_link(
    system: System,
) -> None:
    w = await new_world(system)
    users = [await w.add_user() for _ in range(INVITES)]
    addresses = [a for _, a in users]
    async with shared_scheduler_paused(system):
        invites = [await w.call(s.INVITES_SEND, {"user_id": u}) for u, _ in users]
        ids = [i["id"] for i in invites]

        doomed = system.build(
            "invite-scheduler", send_concurrency=CONCURRENCY, send_lease_seconds=LEASE
        )
        crashed = crash_after(dispatcher_of(doomed), RECORDED_BEFORE_CRASH)
        await doomed.app.start()
        try:
            await asyncio.wait_for(crashed.wait(), 30)
            # the other slots finish their mail and hang too
            await asyncio.sleep(1.0)
        finally:
            await asyncio.wait_for(doomed.app.stop(), 45)

        mailed_before = {a: len(mails_to(system, a)) for a in addresses}
        assert sum(mailed_before.values()) <= RECORDED_BEFORE_CRASH + CONCURRENCY
        rows = await fetch(system, "SELECT id, status FROM invites WHERE id = ANY($1)", ids)
        by_id = {r["id"]: r["status"] for r in rows}
        assert list(by_id.values()).count("Sent") == RECORDED_BEFORE_CRASH
        # a mail that went out but was never recorded: its link works already
        unrecorded = [
            a
            for (u, a), i in zip(users, ids, strict=True)
            if mailed_before[a] and by_id[i] != "Sent"
        ]
        assert unrecorded, "the crash left no mail in flight"
        for a in unrecorded:
            got = await redeem(system, token_in(mails_to(system, a)[0]), dry_run=True)
            assert got["email"] == a

        async with replica(system, send_concurrency=CONCURRENCY, send_lease_seconds=LEASE):

            async def all_sent() -> bool:
                rows = await fetch(
                    system,
                    "SELECT count(*) AS n FROM invites WHERE id = ANY($1) AND status = 'Sent'",
                    ids,
                )
                return bool(rows[0]["n"] == INVITES)

            await eventually(all_sent, timeout=60)
            await eventually(lambda: all(mails_to(system, a) for a in addresses), timeout=30)
            await asyncio.sleep(1.0)  # nothing more arrives

    counts = Counter({a: len(mails_to(system, a)) for a in addresses})
    extra = sum(n - 1 for n in counts.values())
    assert all(n >= 1 for n in counts.values())
    assert 1 <= extra <= CONCURRENCY, counts
    assert {a for a, n in counts.items() if n > 1} <= set(unrecorded)
    for a in addresses:
        mails = mails_to(system, a)
        assert len({token_in(m) for m in mails}) == 1, f"{a} got different links"
        assert len({m["Message-ID"] for m in mails}) == 1, f"{a} got different Message-IDs"
    # every mailed link works (once)
    for a in addresses:
        got = await redeem(system, token_in(mails_to(system, a)[0]))
        assert got["email"] == a
