"""Linking an Engage account and step 1: the directory projection and candidates."""

from __future__ import annotations

from shared.auth import Perm

from shared import subjects as s
from tests.integration.engage.support import (
    ADMIN,
    add_users,
    candidates,
    link,
    publish,
    setup,
    snapshot,
    wait_directory,
)
from tests.support.system import System, eventually, uid


async def test_link_takes_the_accounts_defaults_mapped_and_the_four_roles(system: System) -> None:
    acc = await system.create_account(
        country="GB", settings={"default_time_zone": "Europe/Belfast", "default_language": "en-IE"}
    )
    lnk = await link(system, acc["id"])
    assert lnk["engage_account_id"].startswith("eng_")
    assert lnk["account_id"] == acc["id"]
    assert (lnk["default_time_zone"], lnk["default_language"]) == ("Europe/London", "en-GB")
    token = system.token_for(acc["id"], [Perm.ENGAGE_READ])
    roles = await system.call(
        s.ENGAGE_ROLES_LIST, {"engage_account_id": lnk["engage_account_id"]}, token=token
    )
    by_id = {r["id"]: r for r in roles["items"]}
    assert {r["name"] for r in roles["items"]} == {
        "Administrator",
        "Agent",
        "Manager",
        "Quality analyst",
    }
    assert all(r["predefined"] for r in roles["items"])
    assert by_id["agent"]["permissions"] == ["inbox.read", "inbox.reply"]


async def test_linking_needs_engage_manage_on_that_very_account(system: System) -> None:
    acc = await system.create_account()
    other = await system.create_account()
    payload = {"engage_account": {"name": "Support"}, "account_id": acc["id"]}
    reader = system.token_for(acc["id"], [Perm.ENGAGE_READ])
    await system.expect_error("forbidden", s.ENGAGE_LINKS_CREATE, payload, token=reader)
    stranger = system.token_for(other["id"], ADMIN)
    await system.expect_error("forbidden", s.ENGAGE_LINKS_CREATE, payload, token=stranger)


async def test_linking_an_unknown_account_is_not_found(system: System) -> None:
    token = await system.operator_token()
    err = await system.expect_error(
        "not_found",
        s.ENGAGE_LINKS_CREATE,
        {"engage_account": {"name": "X"}, "account_id": "acc_nope"},
        token=token,
    )
    assert err.details["account_id"] == "acc_nope"


async def test_the_same_engage_name_twice_on_one_account_is_a_conflict(system: System) -> None:
    acc = await system.create_account()
    name = f"Support {uid()}"
    await link(system, acc["id"], name=name)
    await system.expect_error(
        "conflict",
        s.ENGAGE_LINKS_CREATE,
        {"engage_account": {"name": name.upper()}, "account_id": acc["id"]},
        token=system.token_for(acc["id"], ADMIN),
    )


async def test_nothing_can_be_imported_before_a_link_exists(system: System) -> None:
    acc = await system.create_account()
    err = await system.expect_error(
        "not_found",
        s.ENGAGE_AGENTS_IMPORT,
        {"engage_account_id": "eng_missing", "user_ids": ["usr_1"], "role_id": "agent"},
        token=system.token_for(acc["id"], ADMIN),
    )
    assert "Engage account" in err.message


async def test_candidates_are_searchable_by_name_or_email_case_insensitively(
    system: System,
) -> None:
    acc, lnk, token = await setup(system)
    eid = lnk["engage_account_id"]
    tag = uid("z")
    users = [
        snapshot(acc["id"], first_name="Ada", last_name=f"Lovelace{tag}"),
        snapshot(acc["id"], first_name="Grace", last_name="Hopper", email=f"g.{tag}@navy.example"),
        snapshot(acc["id"], first_name="Alan", last_name="Turing"),
    ]
    for u in users:
        await publish(system, s.USER_ADDED, u)
    await wait_directory(system, token, eid, 3)
    page = await candidates(system, token, eid, query=f"ada LOVELACE{tag.upper()}")
    assert [c["user_id"] for c in page["items"]] == [users[0]["user_id"]]
    page = await candidates(system, token, eid, query=tag.upper()[1:])
    assert {c["user_id"] for c in page["items"]} == {users[0]["user_id"], users[1]["user_id"]}
    page = await candidates(system, token, eid, query="uring")
    assert page["items"] == [
        {
            "user_id": users[2]["user_id"],
            "first_name": "Alan",
            "last_name": "Turing",
            "email": users[2]["email"],
            "imported": False,
        }
    ]
    assert (await candidates(system, token, eid, query="%"))["items"] == []


async def test_candidates_page_by_id_and_filter_on_imported(system: System) -> None:
    acc, lnk, token = await setup(system)
    eid = lnk["engage_account_id"]
    users = await add_users(system, acc["id"], 7)
    await wait_directory(system, token, eid, 7)
    seen: list[str] = []
    cursor = None
    while True:
        page = await candidates(system, token, eid, limit=3, cursor=cursor)
        seen += [c["user_id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(u["user_id"] for u in users)

    from tests.integration.engage.support import run_import

    chosen = [users[1]["user_id"], users[4]["user_id"]]
    await run_import(system, token, eid, chosen)
    yes = await candidates(system, token, eid, imported=True)
    no = await candidates(system, token, eid, imported=False)
    assert [c["user_id"] for c in yes["items"]] == sorted(chosen)
    assert all(c["imported"] for c in yes["items"])
    assert len(no["items"]) == 5 and not any(c["imported"] for c in no["items"])


async def test_directory_keeps_the_highest_version_and_drops_removed_users(
    system: System,
) -> None:
    acc, lnk, token = await setup(system)
    eid = lnk["engage_account_id"]
    u = snapshot(acc["id"], first_name="Old", version=1)
    await publish(system, s.USER_ADDED, u)
    await publish(system, s.USER_UPDATED, u | {"first_name": "New", "version": 3})
    await publish(system, s.USER_UPDATED, u | {"first_name": "Stale", "version": 2})
    marker = snapshot(acc["id"])
    await publish(system, s.USER_ADDED, marker)
    await wait_directory(system, token, eid, 2)

    async def named_new() -> bool:
        page = await candidates(system, token, eid, query=u["email"])
        return [c["first_name"] for c in page["items"]] == ["New"]

    await eventually(named_new)
    await publish(
        system, s.USER_REMOVED, {"user_id": u["user_id"], "account_id": acc["id"], "version": 4}
    )

    async def gone() -> bool:
        return (await candidates(system, token, eid, query=u["email"]))["items"] == []

    await eventually(gone)


async def test_candidates_of_another_accounts_engage_account_look_missing(
    system: System,
) -> None:
    """Refused, and answered exactly as a missing id: the reply reveals nothing about
    another account's Engage account (issue 9, item 7)."""
    _, lnk, _ = await setup(system)
    other = await system.create_account()
    err = await system.expect_error(
        "not_found",
        s.ENGAGE_CANDIDATES_LIST,
        {"engage_account_id": lnk["engage_account_id"]},
        token=system.token_for(other["id"], ADMIN),
    )
    assert err.message == "No such Engage account."


async def test_candidates_refuse_unknown_fields(system: System) -> None:
    _, lnk, token = await setup(system)
    reply = await system.raw(
        s.ENGAGE_CANDIDATES_LIST,
        {"engage_account_id": lnk["engage_account_id"], "colour": "blue"},
        token=token,
    )
    assert reply.error_code == "validation_failed"
    assert [e["field"] for e in reply.body["error"]["details"]["errors"]] == ["colour"]
