"""Accounts: settings, status, plans, sites and cost centers, through NATS."""

from __future__ import annotations

from shared.auth import Perm
from shared.errors import AppError

from tests.support.system import System, eventually, uid


async def test_partial_settings_update_keeps_the_rest_and_validates_the_whole(
    system: System,
) -> None:
    acc = await system.create_account(country="GB")
    token = system.token_for(acc["id"])
    updated = await system.call(
        "account.v1.accounts.update_settings",
        {
            "account_id": acc["id"],
            "settings": {
                "international_calling": True,
                "default_time_zone": "Europe/Dublin",
                "wfm_integrations": [{"vendor": "NICE", "enabled": True, "config": {"site": "x"}}],
            },
        },
        token=token,
    )
    st = updated["settings"]
    assert st["international_calling"] is True
    assert st["default_time_zone"] == "Europe/Dublin"
    assert st["default_language"] == "en-GB"
    assert st["wfm_integrations"][0]["vendor"] == "NICE"
    assert st["agent_states"][0]["name"] == "Available"


async def test_bad_zone_language_and_agent_states_are_refused_and_change_nothing(
    system: System,
) -> None:
    acc = await system.create_account()
    token = system.token_for(acc["id"])
    err = await system.expect_error(
        "validation_failed",
        "account.v1.accounts.update_settings",
        {
            "account_id": acc["id"],
            "settings": {"default_time_zone": "Mars/Olympus", "default_language": "xx-QQ1"},
        },
        token=token,
    )
    fields = sorted(e["field"] for e in err.details["errors"])
    assert fields == ["settings.default_language", "settings.default_time_zone"]
    err = await system.expect_error(
        "validation_failed",
        "account.v1.accounts.update_settings",
        {
            "account_id": acc["id"],
            "settings": {"agent_states": [{"name": "Break"}, {"name": "break"}]},
        },
        token=token,
    )
    assert {e["field"] for e in err.details["errors"]} == {"settings.agent_states"}
    got = await system.call("account.v1.accounts.get", {"account_id": acc["id"]}, token=token)
    assert got == acc


async def test_bad_country_is_refused(system: System) -> None:
    err = await system.expect_error(
        "validation_failed",
        "account.v1.accounts.create",
        {"name": "X", "country": "XX", "plan": "core"},
        token=await system.operator_token(),
    )
    assert err.details["errors"][0]["field"] == "country"


async def test_unknown_account_is_not_found_for_operator(system: System) -> None:
    await system.expect_error(
        "not_found",
        "account.v1.accounts.update_settings",
        {"account_id": "acc_nope", "settings": {"international_calling": True}},
        token=await system.operator_token(),
    )


async def test_another_accounts_token_cannot_change_settings(system: System) -> None:
    acc = await system.create_account()
    other = await system.create_account()
    await system.expect_error(
        "forbidden",
        "account.v1.accounts.update_settings",
        {"account_id": acc["id"], "settings": {"international_calling": True}},
        token=system.token_for(other["id"]),
    )


async def test_read_only_admin_cannot_change_settings(system: System) -> None:
    acc = await system.create_account()
    await system.expect_error(
        "forbidden",
        "account.v1.accounts.update_settings",
        {"account_id": acc["id"], "settings": {"international_calling": True}},
        token=system.token_for(acc["id"], [Perm.ACCOUNT_READ]),
    )


async def test_operator_suspends_with_reason_and_closed_is_final(system: System) -> None:
    op = await system.operator_token()
    acc = await system.create_account()
    await system.expect_error(
        "validation_failed",
        "account.v1.accounts.set_status",
        {"account_id": acc["id"], "status": "Suspended"},
        token=op,
    )
    s = await system.call(
        "account.v1.accounts.set_status",
        {"account_id": acc["id"], "status": "Suspended", "reason": "unpaid invoice"},
        token=op,
    )
    assert (s["status"], s["status_reason"]) == ("Suspended", "unpaid invoice")
    page = await system.call(
        "account.v1.accounts.list", {"query": acc["name"], "status": "Suspended"}, token=op
    )
    assert [a["id"] for a in page["items"]] == [acc["id"]]
    await system.call(
        "account.v1.accounts.set_status",
        {"account_id": acc["id"], "status": "Closed", "reason": "left"},
        token=op,
    )
    await system.expect_error(
        "conflict",
        "account.v1.accounts.set_status",
        {"account_id": acc["id"], "status": "Active"},
        token=op,
    )
    # only operators reopen: another account's admin is forbidden, and the closed
    # account's own sessions no longer work at all (docs/security.md, "Sessions and
    # authorization")
    other = await system.create_account()
    await system.expect_error(
        "forbidden",
        "account.v1.accounts.set_status",
        {"account_id": acc["id"], "status": "Active"},
        token=system.token_for(other["id"]),
    )

    async def refused() -> bool:
        try:
            await system.call(
                "account.v1.accounts.set_status",
                {"account_id": acc["id"], "status": "Active"},
                token=system.token_for(acc["id"]),
            )
        except AppError as err:
            return err.code == "unauthenticated"
        return False

    await eventually(refused, timeout=2)


async def test_plans_catalogue_lists_user_types_per_plan(system: System) -> None:
    acc = await system.create_account()
    plans = await system.call("account.v1.plans.list", {}, token=system.token_for(acc["id"]))
    by = {p["plan"]: p["user_types"] for p in plans["items"]}
    assert "video_pro_plus" not in by["core"]
    assert "video_pro_plus" in by["advanced"] and "video_pro_plus" in by["ultra"]


async def test_sites_need_a_multi_site_account_and_unique_names(system: System) -> None:
    single = await system.create_account()
    await system.expect_error(
        "conflict",
        "account.v1.sites.create",
        {"account_id": single["id"], "name": "HQ"},
        token=system.token_for(single["id"]),
    )
    multi = await system.create_account(multi_site=True, country="GB")
    token = system.token_for(multi["id"])
    site = await system.call(
        "account.v1.sites.create",
        {"account_id": multi["id"], "name": "London", "code": "LDN"},
        token=token,
    )
    assert site["time_zone"] == "Europe/London"
    await system.expect_error(
        "conflict",
        "account.v1.sites.create",
        {"account_id": multi["id"], "name": "london"},
        token=token,
    )
    await system.expect_error(
        "validation_failed",
        "account.v1.sites.create",
        {"account_id": multi["id"], "name": "Paris", "time_zone": "Europe/Nowhere"},
        token=token,
    )
    for i in range(3):
        await system.call(
            "account.v1.sites.create", {"account_id": multi["id"], "name": f"Site {i}"}, token=token
        )
    first = await system.call(
        "account.v1.sites.list", {"account_id": multi["id"], "limit": 2}, token=token
    )
    rest = await system.call(
        "account.v1.sites.list",
        {"account_id": multi["id"], "cursor": first["next_cursor"]},
        token=token,
    )
    names = [s["name"] for s in first["items"] + rest["items"]]
    assert names == ["London", "Site 0", "Site 1", "Site 2"]
    assert rest["next_cursor"] is None


async def test_cost_center_names_are_unique_in_the_account(system: System) -> None:
    acc = await system.create_account(multi_site=True)  # cost centers need one (DOMAIN.md 6)
    token = system.token_for(acc["id"])
    name = f"Sales {uid()}"
    await system.call(
        "account.v1.cost_centers.create", {"account_id": acc["id"], "name": name}, token=token
    )
    await system.expect_error(
        "conflict",
        "account.v1.cost_centers.create",
        {"account_id": acc["id"], "name": name.upper()},
        token=token,
    )
    other = await system.create_account(multi_site=True)
    await system.call(
        "account.v1.cost_centers.create",
        {"account_id": other["id"], "name": name},
        token=system.token_for(other["id"]),
    )
    page = await system.call("account.v1.cost_centers.list", {"account_id": acc["id"]}, token=token)
    assert [c["name"] for c in page["items"]] == [name]
