"""portals.list: the caller's own portals, paged; nothing of anyone else's."""

from __future__ import annotations

from shared.auth import Perm

from tests.support.system import System, uid


async def test_each_admin_lists_only_its_own_portals_paged(system: System) -> None:
    home = await system.create_account()
    alice, bob = uid("usr_"), uid("usr_")
    a_token = system.token_for(home["id"], user_id=alice)
    b_token = system.token_for(home["id"], user_id=bob)
    mine = [
        await system.call("account.v1.portals.create", {"name": f"BPO {i}"}, token=a_token)
        for i in range(3)
    ]
    theirs = await system.call("account.v1.portals.create", {"name": "Other"}, token=b_token)
    linked = await system.create_account(country="GB")
    code = await system.call(
        "account.v1.portals.link_code",
        {"account_id": linked["id"]},
        token=system.token_for(linked["id"]),
    )
    await system.call(
        "account.v1.portals.link",
        {"portal_id": mine[0]["id"], "account_id": linked["id"], "link_code": code["link_code"]},
        token=a_token,
    )

    first = await system.call("account.v1.portals.list", {"limit": 2}, token=a_token)
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = await system.call(
        "account.v1.portals.list", {"cursor": first["next_cursor"]}, token=a_token
    )
    assert rest["next_cursor"] is None
    listed = first["items"] + rest["items"]
    assert sorted(p["id"] for p in listed) == sorted(p["id"] for p in mine)
    assert {p["id"]: p["linked_accounts"] for p in listed} == {
        mine[0]["id"]: 1,
        mine[1]["id"]: 0,
        mine[2]["id"]: 0,
    }
    assert all(p["owner_user_id"] == alice for p in listed)

    only = await system.call("account.v1.portals.list", {}, token=b_token)
    assert [p["id"] for p in only["items"]] == [theirs["id"]]
    nobody = system.token_for(home["id"], user_id=uid("usr_"))
    assert await system.call("account.v1.portals.list", {}, token=nobody) == {
        "items": [],
        "next_cursor": None,
    }


async def test_portals_list_needs_the_portals_permission(system: System) -> None:
    home = await system.create_account()
    token = system.token_for(home["id"], permissions=[Perm.ACCOUNT_READ])
    await system.expect_error("forbidden", "account.v1.portals.list", {}, token=token)
    await system.expect_error(
        "validation_failed",
        "account.v1.portals.list",
        {"limit": 501},
        token=system.token_for(home["id"]),
    )
