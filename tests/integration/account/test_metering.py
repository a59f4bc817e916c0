"""Free-user metering from the telephony platform's call events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.integration.account.helpers import (
    publish_call,
    publish_event,
    user_added,
    user_snapshot,
)
from tests.support.system import System, eventually


async def overage(system: System, account_id: str) -> list[dict[str, Any]]:
    page = await system.call(
        "account.v1.charges.list",
        {"account_id": account_id, "kind": "free_user_overage"},
        token=system.token_for(account_id),
    )
    return list(page["items"])


async def test_eleventh_call_charges_once_and_replays_count_once(system: System) -> None:
    acc = await system.create_account(country="GB")
    control = await system.create_account(country="US")
    free = await user_added(system, acc["id"], "free")
    ctl_user = await user_added(system, control["id"], "free")
    when = datetime(2026, 3, 15, 12, tzinfo=UTC)
    for _ in range(10):
        call_id = await publish_call(system, acc["id"], free, started_at=when)
        await publish_call(system, acc["id"], free, call_id=call_id, started_at=when)  # replayed
    for _ in range(11):
        await publish_call(system, control["id"], ctl_user, started_at=when)
    # the control account's 11th call is behind every replay in the stream
    await eventually(lambda: overage(system, control["id"]), timeout=20)
    assert await overage(system, acc["id"]) == []

    for _ in range(3):
        await publish_call(system, acc["id"], free, started_at=when)
    charges = await eventually(lambda: overage(system, acc["id"]), timeout=20)
    await publish_call(system, acc["id"], free, started_at=when)
    await eventually(lambda: overage(system, control["id"]))
    assert len(charges) == 1
    assert (charges[0]["user_id"], charges[0]["cycle"], charges[0]["currency"]) == (
        free,
        "2026-03",
        "GBP",
    )


async def test_calls_of_licensed_users_are_never_charged(system: System) -> None:
    acc = await system.create_account()
    std = await user_added(system, acc["id"], "standard")
    free = await user_added(system, acc["id"], "free")
    when = datetime(2026, 4, 2, 12, tzinfo=UTC)
    for _ in range(12):
        await publish_call(system, acc["id"], std, started_at=when)
    for _ in range(11):
        await publish_call(system, acc["id"], free, started_at=when)
    charges = await eventually(lambda: overage(system, acc["id"]), timeout=20)
    assert [c["user_id"] for c in charges] == [free]


async def test_calls_before_the_user_is_known_are_charged_when_it_turns_out_free(
    system: System,
) -> None:
    acc = await system.create_account()
    user_id = "usr_late" + datetime.now(UTC).strftime("%f")
    when = datetime(2026, 5, 31, 23, 30, tzinfo=UTC)  # still May in New York
    for _ in range(11):
        await publish_call(system, acc["id"], user_id, started_at=when)
    await publish_event(
        system,
        "events.identity.user.added",
        user_snapshot(acc["id"], user_id, "free", status="Enabled")
        | {"setup_option": "activate_later"},
        "identity",
    )
    charges = await eventually(lambda: overage(system, acc["id"]), timeout=20)
    assert [(c["user_id"], c["cycle"]) for c in charges] == [(user_id, "2026-05")]
