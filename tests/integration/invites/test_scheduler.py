"""The durable scheduler: SMTP retries, failure, expiry, restart with invites due while
down, several replicas at once. Emails are counted per recipient on the real SMTP
server, so "exactly once" means one message in the mailbox."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from shared.errors import AppError

from shared import subjects as s
from tests.integration.invites.support import (
    World,
    execute,
    local_in,
    mails_to,
    new_world,
    redeem,
    replica,
    shared_scheduler_paused,
    token_in,
    wait_mails,
)
from tests.support.system import System, eventually


async def _status(w: World, invite_id: str, status: str) -> dict[str, Any] | None:
    got = await w.call(s.INVITES_GET, {"invite_id": invite_id})
    return got if got["status"] == status else None


async def _schedule_many(
    w: World, n: int, seconds: float, zone: str = "America/New_York"
) -> list[tuple[str, str]]:
    users = [await w.add_user() for _ in range(n)]
    local = local_in(zone, timedelta(seconds=seconds))
    out = []
    for user_id, address in users:
        inv = await w.call(
            s.INVITES_SCHEDULE, {"user_id": user_id, "send_at": local, "time_zone": zone}
        )
        out.append((inv["id"], address))
    return out


async def test_transient_smtp_failures_are_retried_with_backoff_until_sent(system: System) -> None:
    w = await new_world(system)
    user_id, address = await w.add_user()
    system.mail.handler.fail_next = 2
    try:
        invite = await w.call(s.INVITES_SEND, {"user_id": user_id})
        await wait_mails(system, address, timeout=20)
        got = await eventually(lambda: _status(w, invite["id"], "Sent"))
        assert got["attempts"] == 3 and got["reason"] is None
        assert len(mails_to(system, address)) == 1
    finally:
        system.mail.handler.fail_next = 0


async def test_an_invite_fails_with_the_reason_after_the_last_attempt(system: System) -> None:
    w = await new_world(system)
    user_id, address = await w.add_user()
    async with shared_scheduler_paused(system), replica(system, max_attempts=2, retry_delays=[0.2]):
        system.mail.handler.fail_next = 10
        try:
            invite = await w.call(s.INVITES_SEND, {"user_id": user_id})
            failed = await eventually(lambda: _status(w, invite["id"], "Failed"))
        finally:
            system.mail.handler.fail_next = 0
    assert failed["attempts"] == 2 and "451" in failed["reason"]
    assert mails_to(system, address) == []
    # the admin can try again once the mail server is back
    await w.call(s.INVITES_RESEND, {"invite_id": invite["id"]})
    await wait_mails(system, address)


async def test_a_link_expires_and_the_sweep_marks_the_invite_expired(system: System) -> None:
    w = await new_world(system)
    user_id, address = await w.add_user()
    async with (
        shared_scheduler_paused(system),
        replica(system, invite_ttl_seconds=1, expiry_sweep_seconds=0.3),
    ):
        invite = await w.call(s.INVITES_SEND, {"user_id": user_id})
        token = token_in((await wait_mails(system, address))[0])
        await eventually(lambda: _status(w, invite["id"], "Expired"))
    try:
        await redeem(system, token)
        raise AssertionError("expired token accepted")
    except AppError as err:
        assert err.code == "conflict" and err.details == {"reason": "expired"}


async def test_invites_due_while_the_service_was_down_go_out_once_after_restart(
    system: System,
) -> None:
    w = await new_world(system)
    async with shared_scheduler_paused(system):
        async with replica(system):
            invites = await _schedule_many(w, 8, seconds=2)
        # every scheduler is down now; the invites come due
        await asyncio.sleep(3.0)
        assert all(mails_to(system, a) == [] for _, a in invites)
        async with replica(system):
            for _, address in invites:
                await wait_mails(system, address)
            for invite_id, _ in invites:
                await eventually(lambda i=invite_id: _status(w, i, "Sent"))  # type: ignore[misc]
    await asyncio.sleep(1.0)
    assert [len(mails_to(system, a)) for _, a in invites] == [1] * len(invites)


async def test_an_invite_claimed_by_a_replica_that_died_is_sent_after_its_lease(
    system: System,
) -> None:
    w = await new_world(system)
    async with shared_scheduler_paused(system):
        [(invite_id, address)] = await _schedule_many(w, 1, seconds=1)
        await asyncio.sleep(1.5)
        # a replica claimed it (lease, attempt counted) and died before sending
        await execute(
            system,
            "UPDATE invites SET lease_until = now() + interval '1 second', lease_id = 'dead',"
            " attempts = attempts + 1 WHERE id = $1",
            invite_id,
        )
        async with replica(system):
            await wait_mails(system, address)
            got = await eventually(lambda: _status(w, invite_id, "Sent"))
    assert got["attempts"] == 2
    assert len(mails_to(system, address)) == 1


async def test_three_replicas_at_once_send_every_invite_exactly_once(system: System) -> None:
    w = await new_world(system)
    async with replica(system, claim_batch=3), replica(system, claim_batch=5):
        # 30 schedule requests must all land before the send time: room for a loaded machine
        invites = await _schedule_many(w, 30, seconds=6, zone="Europe/London")
        for _, address in invites:
            await wait_mails(system, address)
        for invite_id, _ in invites:
            got = await eventually(lambda i=invite_id: _status(w, i, "Sent"))  # type: ignore[misc]
            assert got["attempts"] == 1
    await asyncio.sleep(1.0)
    assert [len(mails_to(system, a)) for _, a in invites] == [1] * len(invites)
