"""Sites after they exist: change and removal (a site with users stays), and cost
centers only on multi-site accounts (DOMAIN.md sections 1 and 6)."""

from __future__ import annotations

import json
from typing import Any

from tests.integration.account.helpers import publish_event, user_facts_marker, user_snapshot
from tests.support.system import System, eventually, uid


async def site_of(system: System, **fields: Any) -> tuple[dict[str, Any], dict[str, Any], str]:
    acc = await system.create_account(multi_site=True, country="GB")
    token = system.token_for(acc["id"])
    site = await system.call(
        "account.v1.sites.create",
        {"account_id": acc["id"], "name": f"London {uid()}", "code": "LDN"} | fields,
        token=token,
    )
    return acc, site, token


async def user_event(
    system: System,
    subject: str,
    account_id: str,
    user_id: str,
    version: int,
    site_id: str | None,
) -> None:
    data = user_snapshot(
        account_id, user_id, "standard", version, status="Enabled", site_id=site_id
    )
    if subject == "events.identity.user.added":
        data["setup_option"] = "activate_later"
    await publish_event(system, subject, data, "identity")


async def sites_list(system: System, account_id: str, token: str) -> list[dict[str, Any]]:
    page = await system.call("account.v1.sites.list", {"account_id": account_id}, token=token)
    return list(page["items"])


async def test_site_update_changes_what_is_given_and_emits_the_whole_site(system: System) -> None:
    acc, site, token = await site_of(system)
    sub = await system.harness_nc.subscribe("events.account.site.updated")
    try:
        changed = await system.call(
            "account.v1.sites.update",
            {"account_id": acc["id"], "site_id": site["id"], "time_zone": "Europe/Dublin"},
            token=token,
        )
        assert (changed["name"], changed["code"], changed["time_zone"]) == (
            site["name"],
            "LDN",
            "Europe/Dublin",
        )
        while True:
            msg = await sub.next_msg(timeout=10)
            data = json.loads(msg.data)["data"]
            if data["site_id"] == site["id"]:
                break
    finally:
        await sub.unsubscribe()
    assert data == {
        "account_id": acc["id"],
        "site_id": site["id"],
        "name": site["name"],
        "code": "LDN",
        "time_zone": "Europe/Dublin",
        "changed": ["time_zone"],
    }
    renamed = await system.call(
        "account.v1.sites.update",
        {"account_id": acc["id"], "site_id": site["id"], "name": "Dublin", "code": "DUB"},
        token=token,
    )
    assert (renamed["name"], renamed["code"], renamed["time_zone"]) == (
        "Dublin",
        "DUB",
        "Europe/Dublin",
    )


async def test_site_update_refuses_bad_zone_taken_name_and_other_accounts_sites(
    system: System,
) -> None:
    acc, site, token = await site_of(system)
    other_site = await system.call(
        "account.v1.sites.create", {"account_id": acc["id"], "name": "Paris"}, token=token
    )
    err = await system.expect_error(
        "validation_failed",
        "account.v1.sites.update",
        {"account_id": acc["id"], "site_id": site["id"], "time_zone": "Europe/Nowhere"},
        token=token,
    )
    assert "time_zone" in json.dumps(err.details)
    await system.expect_error(
        "conflict",
        "account.v1.sites.update",
        {"account_id": acc["id"], "site_id": site["id"], "name": "PARIS"},
        token=token,
    )
    # nothing changed
    listed = await sites_list(system, acc["id"], token)
    assert {s["id"]: (s["name"], s["time_zone"]) for s in listed} == {
        site["id"]: (site["name"], site["time_zone"]),
        other_site["id"]: ("Paris", site["time_zone"]),
    }
    # another account's site answers exactly like a missing one
    stranger, stranger_site, stranger_token = await site_of(system)
    for site_id in (stranger_site["id"], "site_missing"):
        for subject, extra in (
            ("account.v1.sites.update", {"name": "Mine now"}),
            ("account.v1.sites.remove", {}),
        ):
            err = await system.expect_error(
                "not_found",
                subject,
                {"account_id": acc["id"], "site_id": site_id} | extra,
                token=token,
            )
            assert err.details == {"site_id": site_id}
    # and naming the other account is forbidden
    await system.expect_error(
        "forbidden",
        "account.v1.sites.remove",
        {"account_id": stranger["id"], "site_id": stranger_site["id"]},
        token=token,
    )
    assert [s["id"] for s in await sites_list(system, stranger["id"], stranger_token)] == [
        stranger_site["id"]
    ]


async def test_a_site_with_users_cannot_be_removed_until_they_leave(system: System) -> None:
    acc, site, token = await site_of(system)
    on_site = [uid("usr_"), uid("usr_")]
    for user_id in on_site:
        await user_event(system, "events.identity.user.added", acc["id"], user_id, 1, site["id"])
    await eventually(await user_facts_marker(system), timeout=20)
    err = await system.expect_error(
        "conflict",
        "account.v1.sites.remove",
        {"account_id": acc["id"], "site_id": site["id"]},
        token=token,
    )
    assert err.details == {"site_id": site["id"], "users": 2}
    assert "2 users" in err.message
    assert [s["id"] for s in await sites_list(system, acc["id"], token)] == [site["id"]]

    # one moves to no site, the other is removed: the site can go
    await user_event(system, "events.identity.user.updated", acc["id"], on_site[0], 2, None)
    await publish_event(
        system,
        "events.identity.user.removed",
        {"user_id": on_site[1], "account_id": acc["id"], "version": 2},
        "identity",
    )

    async def removed() -> dict[str, Any] | None:
        reply = await system.raw(
            "account.v1.sites.remove",
            {"account_id": acc["id"], "site_id": site["id"]},
            token=token,
        )
        return None if reply.error_code else reply.body

    gone = await eventually(removed, timeout=20)
    assert gone["id"] == site["id"]
    assert await sites_list(system, acc["id"], token) == []
    # its name is free again
    await system.call(
        "account.v1.sites.create", {"account_id": acc["id"], "name": site["name"]}, token=token
    )


async def test_cost_centers_exist_only_on_multi_site_accounts(system: System) -> None:
    single = await system.create_account()
    token = system.token_for(single["id"])
    err = await system.expect_error(
        "conflict",
        "account.v1.cost_centers.create",
        {"account_id": single["id"], "name": "Sales"},
        token=token,
    )
    assert "multi-site" in err.message
    assert err.details == {"account_id": single["id"], "multi_site": False}
    page = await system.call(
        "account.v1.cost_centers.list", {"account_id": single["id"]}, token=token
    )
    assert page["items"] == []
    multi = await system.create_account(multi_site=True)
    made = await system.call(
        "account.v1.cost_centers.create",
        {"account_id": multi["id"], "name": "Sales"},
        token=system.token_for(multi["id"]),
    )
    assert made["name"] == "Sales"
