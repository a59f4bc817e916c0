"""A large import survives the loss of the instance working on it."""

from __future__ import annotations

import os

import asyncpg
import pytest
from shared.db import database_url_for, to_plain_url

from shared import subjects as s
from tests.integration.engage.support import add_users, finished, setup
from tests.support.system import System, eventually

#: 10,000 (the model's bound) also passes (about 15 s for the import itself on a
#: loaded 2-core machine); the suite uses fewer so it stays fast, since every
#: service of the in-process system consumes the published user events.
N = int(os.environ.get("ENGAGE_RESTART_USERS", "3000"))


@pytest.mark.slow
async def test_large_import_finishes_with_each_agent_once_after_an_instance_stops_mid_way(
    system: System,
) -> None:
    acc, lnk, token = await setup(system)
    eid = lnk["engage_account_id"]
    users = await add_users(system, acc["id"], N)
    url = to_plain_url(database_url_for(system.database_url, f"{system.run_id}_engage_import"))

    async def projected() -> bool:
        conn = await asyncpg.connect(url)
        try:
            n = await conn.fetchval(
                "SELECT count(*) FROM directory_users WHERE account_id = $1", acc["id"]
            )
        finally:
            await conn.close()
        return bool(n == N)

    await eventually(projected, timeout=120, interval=0.5)
    extra = await system.start("engage-import", import_chunk_size=200)
    stopped = False
    try:
        job = await system.call(
            s.ENGAGE_AGENTS_IMPORT,
            {
                "engage_account_id": eid,
                "user_ids": [u["user_id"] for u in users],
                "role_id": "agent",
            },
            token=token,
            timeout=30,
        )
        assert job["counts"]["total"] == N

        async def started() -> bool:
            got = await system.call(
                s.ENGAGE_IMPORTS_GET,
                {"engage_account_id": eid, "import_id": job["id"], "results_limit": 0},
                token=token,
            )
            return bool(got["counts"]["processed"] > 0)

        await eventually(started, timeout=30, interval=0.02)
        await extra.app.stop()
        stopped = True
        done = await finished(system, token, eid, job["id"], timeout=120)
    finally:
        if not stopped:
            await extra.app.stop()
    assert done["counts"] == {
        "total": N,
        "processed": N,
        "imported": N,
        "already_imported": 0,
        "rejected": 0,
    }
    conn = await asyncpg.connect(url)
    try:
        agents = await conn.fetchval(
            "SELECT count(*) FROM agents WHERE engage_account_id = $1", eid
        )
        distinct = await conn.fetchval(
            "SELECT count(DISTINCT user_id) FROM agents WHERE engage_account_id = $1", eid
        )
        pending = await conn.fetchval(
            "SELECT count(*) FROM import_items WHERE import_id = $1 AND status <> 'imported'",
            job["id"],
        )
        events = await conn.fetchval(
            "SELECT count(*) FROM outbox"
            " WHERE subject = $1 AND convert_from(payload, 'UTF8') LIKE $2",
            s.ENGAGE_AGENT_IMPORTED,
            f"%{job['id']}%",
        )
    finally:
        await conn.close()
    assert (agents, distinct, pending, events) == (N, N, 0, N)
