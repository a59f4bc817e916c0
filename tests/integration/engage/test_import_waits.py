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
    ADMIN,
    add_users,
    finished,
    link,
    publish_users,
    setup,
    snapshot,
    wait_directory,
)
from tests.support.system import System, email, eventually


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

    # the worker has looked at the job: the known user is in, the late one waits
    async def looked() -> bool:
        got = await system.call(
            s.ENGAGE_IMPORTS_GET,
            {"engage_account_id": eid, "import_id": job["id"], "results_limit": 10},
            token=token,
        )
        status = {r["user_id"]: r["status"] for r in got["results"]}
        return status == {known[0]["user_id"]: "imported", late["user_id"]: "pending"}

    await eventually(looked, timeout=30, interval=0.1)
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
    url = to_plain_url(database_url_for(system.database_url, f"{system.run_id}_engage_import"))

    async def foreign_known() -> bool:  # its event is applied too (same stream, after)
        conn = await asyncpg.connect(url)
        try:
            n = await conn.fetchval(
                "SELECT count(*) FROM directory_users WHERE user_id = $1", foreign["user_id"]
            )
        finally:
            await conn.close()
        return bool(n == 1)

    await eventually(foreign_known, timeout=30, interval=0.1)
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
    conn = await asyncpg.connect(url)
    try:
        deferred = await conn.fetchval(
            "SELECT count(*) FROM import_items WHERE import_id = $1 AND retry_at IS NOT NULL",
            job["id"],
        )
    finally:
        await conn.close()
    assert deferred == 0


async def test_a_user_identity_has_is_imported_when_its_event_is_later_than_the_wait(
    system: System,
) -> None:
    """The fault suite's finding: under SMTP faults on a loaded machine, identity's
    ``user.added`` reached engage after the wait was over and acknowledged users were
    rejected ``not_found``. Once the wait is up, engage asks identity: a user identity
    has in the account is imported; one it does not have is rejected."""
    from tests.integration.identity.conftest import entry, ready_account

    acc = await ready_account(system)
    lnk = await link(system, acc["id"])
    token = system.token_for(acc["id"], ADMIN)
    eid = lnk["engage_account_id"]
    added = await system.call(
        s.USERS_ADD,
        {"account_id": acc["id"], "users": [entry(email("late"))]},
        token=await system.operator_token(),
    )
    user_id = added["users"][0]["id"]
    await wait_directory(system, token, eid, 1)
    # engage forgets it: as if identity's event had not arrived yet
    url = to_plain_url(database_url_for(system.database_url, f"{system.run_id}_engage_import"))
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DELETE FROM directory_users WHERE user_id = $1", user_id)
    finally:
        await conn.close()
    # an engage whose wait is already over when it looks (the only one working jobs)
    main = system.services.pop("engage-import")
    await asyncio.wait_for(main.app.stop(), 45)
    impatient = await system.start("engage-import", import_unknown_user_wait_seconds=0)
    try:
        job = await system.call(
            s.ENGAGE_AGENTS_IMPORT,
            {"engage_account_id": eid, "user_ids": [user_id, "usr_ghost"], "role_id": "agent"},
            token=token,
            timeout=30,
        )
        done = await finished(system, token, eid, job["id"])
    finally:
        await asyncio.wait_for(impatient.app.stop(), 45)
        system.services["engage-import"] = await system.start("engage-import")
    by_user = {r["user_id"]: r for r in done["results"]}
    assert by_user[user_id]["status"] == "imported", done
    assert by_user["usr_ghost"]["status"] == "rejected", done
    assert by_user["usr_ghost"]["reason"].startswith("not_found")
