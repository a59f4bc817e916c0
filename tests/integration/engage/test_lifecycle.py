"""Issue 12, engage parts: links.list, agents.update/.remove, agents following the
phone system through identity's user events, and what Engage Voice refuses."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from shared.auth import Perm

from shared import subjects as s
from tests.integration.engage.support import (
    ADMIN,
    link,
    publish,
    publish_users,
    run_import,
    setup,
    snapshot,
    wait_directory,
)
from tests.support.system import System, email, eventually, uid

Events = list[tuple[str, dict[str, Any]]]


@asynccontextmanager
async def engage_events(system: System, engage_account_id: str) -> AsyncIterator[Events]:
    """The engage events of one Engage account, as they are published."""
    seen: Events = []

    async def collect(msg: Any) -> None:
        data = json.loads(msg.data)["data"]
        if data.get("engage_account_id") == engage_account_id:
            seen.append((msg.subject, data))

    sub = await system.harness_nc.subscribe("events.engage.>", cb=collect)
    try:
        yield seen
    finally:
        await sub.unsubscribe()


def of(seen: Events, subject: str) -> list[dict[str, Any]]:
    return [d for subj, d in seen if subj == subject]


async def imported_agent(
    system: System, **user: Any
) -> tuple[dict[str, Any], str, str, dict[str, Any], dict[str, Any]]:
    """(account, engage account id, admin token, the user's snapshot, its agent)."""
    acc, lnk, token = await setup(system)
    eid = lnk["engage_account_id"]
    u = snapshot(acc["id"], **user)
    await publish_users(system, [u])
    await wait_directory(system, token, eid, 1)
    await run_import(system, token, eid, [u["user_id"]])
    agent = await system.call(
        s.ENGAGE_AGENTS_GET, {"engage_account_id": eid, "user_id": u["user_id"]}, token=token
    )
    return acc, eid, token, u, agent


async def agent_of(system: System, token: str, eid: str, user_id: str) -> dict[str, Any] | None:
    page = await system.call(
        s.ENGAGE_AGENTS_LIST, {"engage_account_id": eid, "limit": 500}, token=token
    )
    return next((a for a in page["items"] if a["user_id"] == user_id), None)


def voice(acc: dict[str, Any], u: dict[str, Any]) -> dict[str, str]:
    return {"account_id": acc["id"], "user_id": u["user_id"]}


# --- links.list ------------------------------------------------------------------------
async def test_links_list_shows_the_callers_accounts_links_and_nothing_of_others(
    system: System,
) -> None:
    acc = await system.create_account()
    other = await system.create_account()
    mine = [await link(system, acc["id"]) for _ in range(3)]
    theirs = await link(system, other["id"])
    reader = system.token_for(acc["id"], [Perm.ENGAGE_READ])

    first = await system.call(s.ENGAGE_LINKS_LIST, {"limit": 2}, token=reader)
    rest = await system.call(s.ENGAGE_LINKS_LIST, {"cursor": first["next_cursor"]}, token=reader)
    listed = [x["engage_account_id"] for x in first["items"] + rest["items"]]
    assert listed == sorted(x["engage_account_id"] for x in mine)
    assert rest["next_cursor"] is None
    assert theirs["engage_account_id"] not in listed
    named = await system.call(s.ENGAGE_LINKS_LIST, {"account_id": acc["id"]}, token=reader)
    assert [x["engage_account_id"] for x in named["items"]] == listed

    await system.expect_error(
        "forbidden", s.ENGAGE_LINKS_LIST, {"account_id": other["id"]}, token=reader
    )
    no_engage = system.token_for(acc["id"], [Perm.SELF])
    await system.expect_error("forbidden", s.ENGAGE_LINKS_LIST, {}, token=no_engage)
    op = await system.operator_token()
    theirs_only = await system.call(s.ENGAGE_LINKS_LIST, {"account_id": other["id"]}, token=op)
    assert [x["engage_account_id"] for x in theirs_only["items"]] == [theirs["engage_account_id"]]


# --- agents.update / agents.remove -------------------------------------------------------
async def test_agent_update_changes_role_teams_and_categories_validated_like_import(
    system: System,
) -> None:
    acc, eid, token, _, agent = await imported_agent(system)
    team = await system.call(
        s.ENGAGE_TEAMS_CREATE, {"engage_account_id": eid, "name": f"T {uid()}"}, token=token
    )
    cat = await system.call(
        s.ENGAGE_CATEGORIES_CREATE, {"engage_account_id": eid, "name": f"C {uid()}"}, token=token
    )
    base = {"engage_account_id": eid, "agent_id": agent["id"]}
    async with engage_events(system, eid) as seen:
        err = await system.expect_error(
            "validation_failed",
            s.ENGAGE_AGENTS_UPDATE,
            base | {"role_id": "nope", "team_ids": [team["id"], "tea_nope"]},
            token=token,
        )
        assert [(e["field"], e.get("index")) for e in err.details["errors"]] == [
            ("role_id", None),
            ("team_ids[1]", 1),
        ]
        unchanged = await system.call(s.ENGAGE_AGENTS_GET, base, token=token)
        assert (unchanged["role_id"], unchanged["team_ids"]) == ("agent", [])

        updated = await system.call(
            s.ENGAGE_AGENTS_UPDATE,
            base | {"role_id": "manager", "team_ids": [team["id"]], "category_ids": [cat["id"]]},
            token=token,
        )
        assert (updated["role_id"], updated["role"]) == ("manager", "Manager")
        assert updated["team_ids"] == [team["id"]] and updated["category_ids"] == [cat["id"]]
        assert updated["status"] == "Enabled" and updated["updated_at"] is not None
        await eventually(lambda: of(seen, s.ENGAGE_AGENT_UPDATED), timeout=15)
        event = of(seen, s.ENGAGE_AGENT_UPDATED)[0]
        assert event["changed"] == ["role_id", "team_ids", "category_ids"]
        assert event["cause"] == "admin" and event["agent_id"] == agent["id"]

    await system.expect_error("validation_failed", s.ENGAGE_AGENTS_UPDATE, base, token=token)
    await system.expect_error(
        "not_found",
        s.ENGAGE_AGENTS_UPDATE,
        base | {"agent_id": "agt_nope", "role_id": "agent"},
        token=token,
    )
    reader = system.token_for(acc["id"], [Perm.ENGAGE_READ])
    await system.expect_error(
        "forbidden", s.ENGAGE_AGENTS_UPDATE, base | {"role_id": "agent"}, token=reader
    )
    stranger = system.token_for((await system.create_account())["id"], ADMIN)
    err = await system.expect_error("not_found", s.ENGAGE_AGENTS_REMOVE, base, token=stranger)
    assert err.message == "No such Engage account."


async def test_a_removed_agent_is_signed_out_refused_by_voice_and_can_be_imported_again(
    system: System,
) -> None:
    acc, eid, token, u, agent = await imported_agent(system)
    await system.call(s.ENGAGE_VOICE_SIGN_IN, voice(acc, u), token=token)
    base = {"engage_account_id": eid, "agent_id": agent["id"]}
    async with engage_events(system, eid) as seen:
        removed = await system.call(s.ENGAGE_AGENTS_REMOVE, base, token=token)
        assert (removed["id"], removed["status"]) == (agent["id"], "Removed")
        await eventually(
            lambda: of(seen, s.ENGAGE_AGENT_REMOVED) and of(seen, s.ENGAGE_VOICE_SIGNED_OUT),
            timeout=15,
        )
    assert of(seen, s.ENGAGE_AGENT_REMOVED)[0]["cause"] == "admin"
    assert of(seen, s.ENGAGE_VOICE_SIGNED_OUT)[0]["reason"] == "agent_removed"
    await system.expect_error("not_found", s.ENGAGE_AGENTS_GET, base, token=token)
    await system.expect_error("not_found", s.ENGAGE_AGENTS_REMOVE, base, token=token)
    await system.expect_error("not_found", s.ENGAGE_VOICE_SIGN_IN, voice(acc, u), token=token)

    again = await run_import(system, token, eid, [u["user_id"]])
    assert [r["status"] for r in again["results"]] == ["imported"]
    assert again["results"][0]["agent_id"] != agent["id"]


# --- agents follow the phone system -------------------------------------------------------
async def test_an_agent_follows_its_users_names_email_time_zone_and_language(
    system: System,
) -> None:
    acc, eid, token, u, agent = await imported_agent(system)
    new_mail = email("renamed")
    changed = u | {
        "first_name": "Renée",
        "last_name": "Follow",
        "email": new_mail,
        "regional": u["regional"] | {"time_zone": "Asia/Calcutta", "language": "fr-BE"},
        "version": 3,
    }
    async with engage_events(system, eid) as seen:
        await publish(system, s.USER_UPDATED, changed)

        async def followed() -> dict[str, Any] | None:
            a = await agent_of(system, token, eid, u["user_id"])
            return a if a and a["email"] == new_mail else None

        now = await eventually(followed, timeout=20)
        await eventually(lambda: of(seen, s.ENGAGE_AGENT_UPDATED), timeout=15)
    assert (now["first_name"], now["last_name"]) == ("Renée", "Follow")
    assert (now["time_zone"], now["language"]) == ("Asia/Kolkata", "fr-FR")
    assert now["time_zone_mapping"] == {
        "source": "Asia/Calcutta",
        "value": "Asia/Kolkata",
        "rule": "mapped",
    }
    assert now["username"] == agent["username"]  # the login name stays
    event = of(seen, s.ENGAGE_AGENT_UPDATED)[0]
    assert event["cause"] == "phone_system"
    assert set(event["changed"]) == {"first_name", "last_name", "email", "time_zone", "language"}

    # an older snapshot arriving late changes nothing
    await publish(system, s.USER_UPDATED, u | {"first_name": "Stale", "version": 2})
    marker = snapshot(acc["id"])
    await publish_users(system, [marker])
    await wait_directory(system, token, eid, 2)
    assert (await agent_of(system, token, eid, u["user_id"]) or {})["first_name"] == "Renée"


async def test_a_disabled_users_agent_is_disabled_signed_out_and_refused_then_enabled_again(
    system: System,
) -> None:
    acc, eid, token, u, _ = await imported_agent(system)
    await system.call(s.ENGAGE_VOICE_SIGN_IN, voice(acc, u), token=token)
    async with engage_events(system, eid) as seen:
        await publish(system, s.USER_UPDATED, u | {"status": "Disabled", "version": 2})

        async def disabled() -> bool:
            a = await agent_of(system, token, eid, u["user_id"])
            return a is not None and a["status"] == "Disabled"

        await eventually(disabled, timeout=20)
        await eventually(lambda: of(seen, s.ENGAGE_VOICE_SIGNED_OUT), timeout=15)
    assert of(seen, s.ENGAGE_VOICE_SIGNED_OUT)[0]["reason"] == "agent_disabled"
    assert of(seen, s.ENGAGE_AGENT_UPDATED)[0]["changed"] == ["status"]
    err = await system.expect_error("conflict", s.ENGAGE_VOICE_SIGN_IN, voice(acc, u), token=token)
    assert err.details["rule"] == "agent_disabled"

    await publish(system, s.USER_UPDATED, u | {"status": "Enabled", "version": 3})

    async def enabled() -> bool:
        a = await agent_of(system, token, eid, u["user_id"])
        return a is not None and a["status"] == "Enabled"

    await eventually(enabled, timeout=20)
    state = await system.call(s.ENGAGE_VOICE_SIGN_IN, voice(acc, u), token=token)
    assert state["status"] == "signed_in"


async def test_a_removed_users_agent_is_removed_and_signed_out(system: System) -> None:
    acc, eid, token, u, agent = await imported_agent(system)
    await system.call(s.ENGAGE_VOICE_SIGN_IN, voice(acc, u), token=token)
    async with engage_events(system, eid) as seen:
        await publish(
            system,
            s.USER_REMOVED,
            {"user_id": u["user_id"], "account_id": acc["id"], "version": 2},
        )
        await eventually(
            lambda: of(seen, s.ENGAGE_AGENT_REMOVED) and of(seen, s.ENGAGE_VOICE_SIGNED_OUT),
            timeout=20,
        )
    removed = of(seen, s.ENGAGE_AGENT_REMOVED)[0]
    assert (removed["agent_id"], removed["cause"]) == (agent["id"], "phone_system")
    assert await agent_of(system, token, eid, u["user_id"]) is None
    await system.expect_error("not_found", s.ENGAGE_VOICE_SIGN_IN, voice(acc, u), token=token)


# --- Engage Voice -------------------------------------------------------------------------
async def test_voice_ends_and_refuses_the_users_of_a_suspended_account(system: System) -> None:
    mail = email("bpo")
    acc, eid, token, u, _ = await imported_agent(system, email=mail)
    await system.call(s.ENGAGE_VOICE_SIGN_IN, voice(acc, u), token=token)
    op = await system.operator_token()
    async with engage_events(system, eid) as seen:
        await system.call(
            s.ACCOUNTS_SET_STATUS,
            {"account_id": acc["id"], "status": "Suspended", "reason": "unpaid"},
            token=op,
        )
        await eventually(lambda: of(seen, s.ENGAGE_VOICE_SIGNED_OUT), timeout=20)
    assert of(seen, s.ENGAGE_VOICE_SIGNED_OUT)[0]["reason"] == "account_not_active"
    # the account's sessions are revoked; even an operator's sign-in for the agent is refused
    err = await system.expect_error("conflict", s.ENGAGE_VOICE_SIGN_IN, voice(acc, u), token=op)
    assert err.details["rule"] == "account_not_active"

    # the login was freed: the same person signs in where it is still an agent
    acc_b, _, token_b, u_b, _ = await imported_agent(system, email=mail.upper())
    state = await system.call(s.ENGAGE_VOICE_SIGN_IN, voice(acc_b, u_b), token=token_b)
    assert (state["status"], state["login"]) == ("signed_in", mail)


async def test_one_voice_login_per_person_follows_disable_and_email_change(
    system: System,
) -> None:
    """The login is the email: while signed in to account A, account B is refused; the
    login is freed when A's user is disabled, and a session under an old email ends
    when the email changes."""
    mail = email("one")
    acc_a, _, tok_a, u_a, _ = await imported_agent(system, email=mail)
    acc_b, eid_b, tok_b, u_b, _ = await imported_agent(system, email=mail)
    await system.call(s.ENGAGE_VOICE_SIGN_IN, voice(acc_a, u_a), token=tok_a)
    err = await system.expect_error(
        "conflict", s.ENGAGE_VOICE_SIGN_IN, voice(acc_b, u_b), token=tok_b
    )
    assert err.details["rule"] == "one_account_at_a_time"

    await publish(system, s.USER_UPDATED, u_a | {"status": "Disabled", "version": 2})

    async def b_signs_in() -> dict[str, Any] | None:
        try:
            return await system.call(s.ENGAGE_VOICE_SIGN_IN, voice(acc_b, u_b), token=tok_b)
        except Exception:
            return None

    assert (await eventually(b_signs_in, timeout=20))["account_id"] == acc_b["id"]

    async with engage_events(system, eid_b) as seen:
        await publish(system, s.USER_UPDATED, u_b | {"email": email("moved"), "version": 2})
        await eventually(lambda: of(seen, s.ENGAGE_VOICE_SIGNED_OUT), timeout=20)
    assert of(seen, s.ENGAGE_VOICE_SIGNED_OUT)[0]["reason"] == "email_changed"
