"""Step 2: importing users as agents with a role, teams and categories."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from shared import subjects as s
from tests.integration.engage.support import (
    add_users,
    candidates,
    publish_users,
    run_import,
    setup,
    snapshot,
    wait_directory,
)
from tests.support.system import System, eventually, uid


async def _team(system: System, token: str, eid: str, kind: str = "teams") -> str:
    subject = s.ENGAGE_TEAMS_CREATE if kind == "teams" else s.ENGAGE_CATEGORIES_CREATE
    created = await system.call(
        subject, {"engage_account_id": eid, "name": f"{kind} {uid()}"}, token=token
    )
    return str(created["id"])


async def test_two_steps_import_agents_with_role_teams_categories_and_events(
    system: System,
) -> None:
    acc, lnk, token = await setup(system)
    eid = lnk["engage_account_id"]
    team = await _team(system, token, eid)
    cat = await _team(system, token, eid, "categories")
    users = await add_users(system, acc["id"], 3, time_zone="US/Eastern", language="fr-BE")
    await wait_directory(system, token, eid, 3)
    assert system.nc is not None
    seen: list[tuple[str, dict[str, Any]]] = []

    async def collect(msg: Any) -> None:
        body = json.loads(msg.data)
        if body["data"].get("engage_account_id") == eid:
            seen.append((msg.subject, body["data"]))

    sub = await system.harness_nc.subscribe("events.engage.>", cb=collect)
    try:
        ids = [u["user_id"] for u in users]
        job = await system.call(
            s.ENGAGE_AGENTS_IMPORT,
            {
                "engage_account_id": eid,
                "user_ids": ids,
                "role_id": "manager",
                "team_ids": [team],
                "category_ids": [cat],
            },
            token=token,
        )
        assert job["status"] in ("queued", "running", "finished")
        assert job["counts"]["total"] == 3
        assert [r["user_id"] for r in job["results"]] == ids
        done = await eventually(
            lambda: _get(system, token, eid, job["id"]), timeout=30, interval=0.1
        )
        assert done["counts"] == {
            "total": 3,
            "processed": 3,
            "imported": 3,
            "already_imported": 0,
            "rejected": 0,
        }
        assert {r["status"] for r in done["results"]} == {"imported"}
        agent = await system.call(
            s.ENGAGE_AGENTS_GET, {"engage_account_id": eid, "user_id": ids[0]}, token=token
        )
        u = users[0]
        assert agent["first_name"] == u["first_name"] and agent["last_name"] == u["last_name"]
        assert agent["email"] == u["email"]
        assert agent["username"] == u["email"].split("@")[0].replace("-", ".").lower()
        assert (agent["role_id"], agent["role"]) == ("manager", "Manager")
        assert agent["team_ids"] == [team] and agent["category_ids"] == [cat]
        assert agent["time_zone"] == "America/New_York"
        assert agent["language"] == "fr-FR"
        assert agent["time_zone_mapping"] == {
            "source": "US/Eastern",
            "value": "America/New_York",
            "rule": "mapped",
        }
        assert agent["identity"] == {
            "provider": "ringex",
            "account_id": acc["id"],
            "user_id": ids[0],
        }
        assert "password" not in json.dumps(agent)
        listed = await system.call(
            s.ENGAGE_AGENTS_LIST, {"engage_account_id": eid, "team_id": team}, token=token
        )
        assert sorted(a["user_id"] for a in listed["items"]) == sorted(ids)

        def subjects() -> set[str]:
            return {subj for subj, _ in seen}

        await eventually(lambda: s.ENGAGE_IMPORT_FINISHED in subjects(), timeout=15)
        assert {
            s.ENGAGE_IMPORT_STARTED,
            s.ENGAGE_IMPORT_PROGRESSED,
            s.ENGAGE_IMPORT_FINISHED,
            s.ENGAGE_AGENT_IMPORTED,
        } <= subjects()
        imported = [d for subj, d in seen if subj == s.ENGAGE_AGENT_IMPORTED]
        assert sorted(d["user_id"] for d in imported) == sorted(ids)
    finally:
        await sub.unsubscribe()


async def _get(system: System, token: str, eid: str, import_id: str) -> dict[str, Any] | None:
    job = await system.call(
        s.ENGAGE_IMPORTS_GET, {"engage_account_id": eid, "import_id": import_id}, token=token
    )
    return job if job["status"] == "finished" else None


async def test_role_is_required_and_must_exist(system: System) -> None:
    _, lnk, token = await setup(system)
    eid = lnk["engage_account_id"]
    reply = await system.raw(
        s.ENGAGE_AGENTS_IMPORT, {"engage_account_id": eid, "user_ids": ["usr_x"]}, token=token
    )
    assert reply.error_code == "validation_failed"
    assert [e["field"] for e in reply.body["error"]["details"]["errors"]] == ["role_id"]
    err = await system.expect_error(
        "validation_failed",
        s.ENGAGE_AGENTS_IMPORT,
        {"engage_account_id": eid, "user_ids": ["usr_x"], "role_id": "janitor"},
        token=token,
    )
    assert [e["field"] for e in err.details["errors"]] == ["role_id"]


async def test_unknown_teams_and_categories_are_named_with_their_index(system: System) -> None:
    _, lnk, token = await setup(system)
    eid = lnk["engage_account_id"]
    team = await _team(system, token, eid)
    _, other, _ = await setup(system)
    foreign_team = await _team(
        system, system.token_for(other["account_id"], ["engage.manage"]), other["engage_account_id"]
    )
    err = await system.expect_error(
        "validation_failed",
        s.ENGAGE_AGENTS_IMPORT,
        {
            "engage_account_id": eid,
            "user_ids": ["usr_x"],
            "role_id": "agent",
            "team_ids": [team, foreign_team],
            "category_ids": ["cat_nope"],
        },
        token=token,
    )
    assert [(e["field"], e.get("index")) for e in err.details["errors"]] == [
        ("team_ids[1]", 1),
        ("category_ids[0]", 0),
    ]


async def test_too_many_or_no_users_are_refused(system: System) -> None:
    _, lnk, token = await setup(system)
    eid = lnk["engage_account_id"]
    for ids in ([], [f"usr_{i}" for i in range(10_001)]):
        err = await system.expect_error(
            "validation_failed",
            s.ENGAGE_AGENTS_IMPORT,
            {"engage_account_id": eid, "user_ids": ids, "role_id": "agent"},
            token=token,
        )
        assert err.details["errors"][0]["field"] == "user_ids"


async def test_reimport_reports_already_imported_and_rejects_foreign_or_unknown_users(
    system: System,
) -> None:
    acc, lnk, token = await setup(system)
    eid = lnk["engage_account_id"]
    other = await system.create_account()
    mine = await add_users(system, acc["id"], 2)
    foreign = snapshot(other["id"])
    await publish_users(system, [foreign])
    await wait_directory(system, token, eid, 2)
    first = await run_import(system, token, eid, [mine[0]["user_id"]])
    agent_id = first["results"][0]["agent_id"]
    ids = [
        mine[0]["user_id"],
        mine[1]["user_id"],
        foreign["user_id"],
        "usr_ghost",
        mine[1]["user_id"],
    ]
    job = await run_import(system, token, eid, ids)
    assert job["counts"] == {
        "total": 4,
        "processed": 4,
        "imported": 1,
        "already_imported": 1,
        "rejected": 2,
    }
    by_user = {r["user_id"]: r for r in job["results"]}
    assert by_user[mine[0]["user_id"]]["status"] == "already_imported"
    assert by_user[mine[0]["user_id"]]["agent_id"] == agent_id
    assert by_user[mine[1]["user_id"]]["status"] == "imported"
    for rejected in (foreign["user_id"], "usr_ghost"):
        assert by_user[rejected]["status"] == "rejected"
        assert by_user[rejected]["reason"].startswith("not_found")
    page = await system.call(
        s.ENGAGE_AGENTS_LIST, {"engage_account_id": eid, "limit": 500}, token=token
    )
    assert sorted(a["user_id"] for a in page["items"]) == sorted(u["user_id"] for u in mine)
    rejected_only = await system.call(
        s.ENGAGE_IMPORTS_GET,
        {"engage_account_id": eid, "import_id": job["id"], "result_status": "rejected"},
        token=token,
    )
    assert {r["user_id"] for r in rejected_only["results"]} == {foreign["user_id"], "usr_ghost"}


async def test_two_imports_of_the_same_users_at_once_create_each_agent_once(
    system: System,
) -> None:
    acc, lnk, token = await setup(system)
    eid = lnk["engage_account_id"]
    users = await add_users(system, acc["id"], 40)
    await wait_directory(system, token, eid, 40)
    ids = [u["user_id"] for u in users]
    jobs = await asyncio.gather(*(run_import(system, token, eid, ids) for _ in range(3)))
    assert sum(j["counts"]["imported"] for j in jobs) == 40
    assert sum(j["counts"]["already_imported"] for j in jobs) == 80
    page = await candidates(system, token, eid, imported=True, limit=500)
    assert len(page["items"]) == 40


async def test_usernames_are_unique_in_the_engage_account(system: System) -> None:
    acc, lnk, token = await setup(system)
    eid = lnk["engage_account_id"]
    local = f"Jane.Doe.{uid()}"
    users = [snapshot(acc["id"], email=f"{local}@{d}.example.com") for d in ("a", "b", "c")]
    await publish_users(system, users)
    await wait_directory(system, token, eid, 3)
    job = await run_import(system, token, eid, [u["user_id"] for u in users])
    names = [r["username"] for r in job["results"]]
    base = local.lower()
    assert names == [base, f"{base}2", f"{base}3"]


MAPPING_CASES = [
    # (time zone, language) -> (product zone, zone rule, product locale, locale rule)
    (("America/Chicago", "en-US"), ("America/Chicago", "exact", "en-US", "exact")),
    (("US/Pacific", "en-GB"), ("America/Los_Angeles", "mapped", "en-GB", "exact")),
    (("Asia/Calcutta", "en-IN"), ("Asia/Kolkata", "mapped", "en-GB", "mapped")),
    (("Europe/Vienna", "de-AT"), ("Europe/Berlin", "mapped", "de-DE", "mapped")),
    (("Asia/Jakarta", "es-419"), ("Asia/Bangkok", "mapped", "es-MX", "mapped")),
    (("Asia/Kathmandu", "ru-RU"), ("Europe/Paris", "fallback", "fr-FR", "fallback")),
    (("Pacific/Chatham", "zh-TW"), ("Europe/Paris", "fallback", "fr-FR", "fallback")),
    (("Asia/Tokyo", "ja"), ("Asia/Tokyo", "exact", "ja-JP", "mapped")),
    ((None, None), ("Europe/Paris", "fallback", "fr-FR", "fallback")),
    (("Australia/Melbourne", "en-NZ"), ("Australia/Sydney", "mapped", "en-AU", "mapped")),
]


async def test_time_zone_and_language_are_mapped_and_reported_per_agent(system: System) -> None:
    acc = await system.create_account()
    from tests.integration.engage.support import link

    lnk = await link(system, acc["id"], default_time_zone="Europe/Paris", default_language="fr")
    eid = lnk["engage_account_id"]
    token = system.token_for(acc["id"], ["engage.manage"])
    users = []
    for (tz, lang), _ in MAPPING_CASES:
        u = snapshot(acc["id"])
        u["regional"] = {"time_zone": tz, "language": lang} if tz else {}
        users.append(u)
    await publish_users(system, users)
    await wait_directory(system, token, eid, len(users))
    job = await run_import(system, token, eid, [u["user_id"] for u in users])
    for ((tz, lang), (zone, zrule, loc, lrule)), res in zip(
        MAPPING_CASES, job["results"], strict=True
    ):
        assert res["time_zone"] == {"source": tz, "value": zone, "rule": zrule}, tz
        assert res["language"] == {"source": lang, "value": loc, "rule": lrule}, lang
