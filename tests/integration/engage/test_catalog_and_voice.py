"""Roles, teams and categories per Engage account; the Engage Voice sign-in rule."""

from __future__ import annotations

from shared.auth import Perm

from shared import subjects as s
from tests.integration.engage.support import (
    ADMIN,
    link,
    publish_users,
    run_import,
    setup,
    snapshot,
    wait_directory,
)
from tests.support.system import System, email, uid


async def test_custom_role_with_known_permissions_can_be_used_for_an_import(
    system: System,
) -> None:
    acc, lnk, token = await setup(system)
    eid = lnk["engage_account_id"]
    role = await system.call(
        s.ENGAGE_ROLES_CREATE,
        {"engage_account_id": eid, "name": "Night shift", "permissions": ["inbox.read"]},
        token=token,
    )
    assert role["predefined"] is False and role["permissions"] == ["inbox.read"]
    user = snapshot(acc["id"])
    await publish_users(system, [user])
    await wait_directory(system, token, eid, 1)
    await run_import(system, token, eid, [user["user_id"]], role_id=role["id"])
    agent = await system.call(
        s.ENGAGE_AGENTS_GET, {"engage_account_id": eid, "user_id": user["user_id"]}, token=token
    )
    assert (agent["role_id"], agent["role"]) == (role["id"], "Night shift")


async def test_custom_role_refuses_unknown_permissions_and_taken_names(system: System) -> None:
    _, lnk, token = await setup(system)
    eid = lnk["engage_account_id"]
    err = await system.expect_error(
        "validation_failed",
        s.ENGAGE_ROLES_CREATE,
        {"engage_account_id": eid, "name": "X", "permissions": ["inbox.read", "launch.rockets"]},
        token=token,
    )
    assert [(e["field"], e["index"]) for e in err.details["errors"]] == [("permissions[1]", 1)]
    await system.expect_error(
        "conflict",
        s.ENGAGE_ROLES_CREATE,
        {"engage_account_id": eid, "name": "agent", "permissions": ["inbox.read"]},
        token=token,
    )


async def test_teams_and_categories_are_created_listed_and_unique_by_name(system: System) -> None:
    _, lnk, token = await setup(system)
    eid = lnk["engage_account_id"]
    for create, list_ in (
        (s.ENGAGE_TEAMS_CREATE, s.ENGAGE_TEAMS_LIST),
        (s.ENGAGE_CATEGORIES_CREATE, s.ENGAGE_CATEGORIES_LIST),
    ):
        names = [f"N{i} {uid()}" for i in range(3)]
        made = [
            await system.call(create, {"engage_account_id": eid, "name": n}, token=token)
            for n in names
        ]
        await system.expect_error(
            "conflict", create, {"engage_account_id": eid, "name": names[0].lower()}, token=token
        )
        first = await system.call(list_, {"engage_account_id": eid, "limit": 2}, token=token)
        rest = await system.call(
            list_, {"engage_account_id": eid, "cursor": first["next_cursor"]}, token=token
        )
        assert [t["id"] for t in first["items"] + rest["items"]] == [m["id"] for m in made]
        assert rest["next_cursor"] is None


async def test_reading_is_allowed_with_engage_read_but_creating_is_not(system: System) -> None:
    acc, lnk, _ = await setup(system)
    eid = lnk["engage_account_id"]
    reader = system.token_for(acc["id"], [Perm.ENGAGE_READ])
    await system.call(s.ENGAGE_TEAMS_LIST, {"engage_account_id": eid}, token=reader)
    await system.expect_error(
        "forbidden", s.ENGAGE_TEAMS_CREATE, {"engage_account_id": eid, "name": "X"}, token=reader
    )
    await system.expect_error(
        "forbidden",
        s.ENGAGE_AGENTS_IMPORT,
        {"engage_account_id": eid, "user_ids": ["usr_x"], "role_id": "agent"},
        token=reader,
    )


async def _agent_in_new_account(system: System, mail: str) -> tuple[str, str]:
    acc = await system.create_account()
    lnk = await link(system, acc["id"])
    token = system.token_for(acc["id"], ADMIN)
    user = snapshot(acc["id"], email=mail)
    await publish_users(system, [user])
    await wait_directory(system, token, lnk["engage_account_id"], 1)
    await run_import(system, token, lnk["engage_account_id"], [user["user_id"]])
    return acc["id"], user["user_id"]


async def test_an_agent_login_is_signed_in_to_one_account_at_a_time(system: System) -> None:
    mail = email("voice")
    acc_a, user_a = await _agent_in_new_account(system, mail)
    acc_b, user_b = await _agent_in_new_account(system, mail.upper())
    tok_a = system.token_for(acc_a, [Perm.SELF], user_id=user_a)
    tok_b = system.token_for(acc_b, [Perm.SELF], user_id=user_b)
    a = {"account_id": acc_a, "user_id": user_a}
    b = {"account_id": acc_b, "user_id": user_b}

    state = await system.call(s.ENGAGE_VOICE_SIGN_IN, a, token=tok_a)
    assert (state["status"], state["account_id"], state["login"]) == ("signed_in", acc_a, mail)
    again = await system.call(s.ENGAGE_VOICE_SIGN_IN, a, token=tok_a)
    assert again["status"] == "signed_in"

    err = await system.expect_error("conflict", s.ENGAGE_VOICE_SIGN_IN, b, token=tok_b)
    assert err.details["rule"] == "one_account_at_a_time"
    assert "only one account at a time" in err.message
    assert acc_a not in str(err.details)

    out = await system.call(s.ENGAGE_VOICE_SIGN_OUT, a, token=tok_a)
    assert out["status"] == "signed_out"
    now_b = await system.call(s.ENGAGE_VOICE_SIGN_IN, b, token=tok_b)
    assert (now_b["status"], now_b["account_id"]) == ("signed_in", acc_b)
    await system.expect_error("conflict", s.ENGAGE_VOICE_SIGN_IN, a, token=tok_a)


async def test_voice_sign_in_needs_an_agent_of_that_account_and_the_right_caller(
    system: System,
) -> None:
    acc, user = await _agent_in_new_account(system, email("voice"))
    someone_else = system.token_for(acc, [Perm.SELF])
    payload = {"account_id": acc, "user_id": user}
    await system.expect_error("forbidden", s.ENGAGE_VOICE_SIGN_IN, payload, token=someone_else)
    other = await system.create_account()
    await system.expect_error(
        "forbidden", s.ENGAGE_VOICE_SIGN_IN, payload, token=system.token_for(other["id"])
    )
    await system.expect_error(
        "not_found",
        s.ENGAGE_VOICE_SIGN_IN,
        {"account_id": acc, "user_id": "usr_not_an_agent"},
        token=system.token_for(acc, ADMIN),
    )
