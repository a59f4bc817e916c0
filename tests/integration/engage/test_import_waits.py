"""Issue 10: an import naming a user engage has not heard of yet (identity's event is
still on its way) waits for it, for a bounded time, instead of rejecting it. (That a
user never heard of is rejected once the wait is over is shown by test_import.py's
``usr_ghost``.)"""

from __future__ import annotations

import asyncio

import asyncpg
from shared.db import database_url_for, to_plain_url

from shared import subjects as s
from tests.integration.engage.support import (
    add_users,
    finished,
    publish_users,
    setup,
    snapshot,
    wait_directory,
)
from tests.support.system import System


async def test_a_user_added_just_before_the_import_is_imported_not_rejected(
    system: System,
) -> None:
    acc, lnk, token = await setup(system)
    eid = lnk["engage_account_id"]
    known = await add_users(system, acc["id"], 1)
    await wait_directory(system, token, eid, 1)
    # added in identity a moment ago: its user.added has not reached engage yet
    late = snapshot(acc["id"])
    job = await system.call(
        s.ENGAGE_AGENTS_IMPORT,
        {
            "engage_account_id": eid,
            "user_ids": [known[0]["user_id"], late["user_id"]],
            "role_id": "agent",
        },
        token=token,
    )
    await asyncio.sleep(1.5)  # the worker has looked at the job by now
    await publish_users(system, [late])
    done = await finished(system, token, eid, job["id"])
    assert done["counts"]["imported"] == 2 and done["counts"]["rejected"] == 0, done
    assert {r["user_id"]: r["status"] for r in done["results"]} == {
        known[0]["user_id"]: "imported",
        late["user_id"]: "imported",
    }


async def test_a_user_of_another_account_is_rejected_without_waiting(system: System) -> None:
    """Only a user engage has never heard of may still be on its way."""
    acc, lnk, token = await setup(system)
    eid = lnk["engage_account_id"]
    other = await system.create_account()
    foreign = snapshot(other["id"])
    mine = await add_users(system, acc["id"], 1)
    await publish_users(system, [foreign])
    await wait_directory(system, token, eid, 1)
    await asyncio.sleep(0.5)  # the foreign user's event is applied too (same stream, after)
    job = await system.call(
        s.ENGAGE_AGENTS_IMPORT,
        {
            "engage_account_id": eid,
            "user_ids": [mine[0]["user_id"], foreign["user_id"]],
            "role_id": "agent",
        },
        token=token,
    )
    done = await finished(system, token, eid, job["id"])
    by_user = {r["user_id"]: r for r in done["results"]}
    assert by_user[foreign["user_id"]]["status"] == "rejected"
    assert by_user[foreign["user_id"]]["reason"].startswith("not_found")
    # it was never put back to wait: engage knows that user, in another account
    url = to_plain_url(database_url_for(system.database_url, f"{system.run_id}_engage_import"))
    conn = await asyncpg.connect(url)
    try:
        deferred = await conn.fetchval(
            "SELECT count(*) FROM import_items WHERE import_id = $1 AND retry_at IS NOT NULL",
            job["id"],
        )
    finally:
        await conn.close()
    assert deferred == 0
