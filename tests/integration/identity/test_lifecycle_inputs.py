"""issue 12, identity: local phone formats stored as E.164, accent- and case-insensitive
user search, and a site's time zone as the default of its users."""

from __future__ import annotations

from typing import Any

from shared.contracts.events import CloudEvent
from shared.errors import AppError

from tests.integration.identity.conftest import entry, ready_account
from tests.support.system import System, email, eventually

ADD = "identity.v1.users.add"
LIST = "identity.v1.users.list"


async def test_local_phone_formats_are_parsed_with_the_account_country(system: System) -> None:
    us = await ready_account(system)
    gb = await ready_account(system, country="GB")
    [u] = (
        await system.call(
            ADD,
            {
                "account_id": us["id"],
                "users": [
                    entry(email(), contact_phone="(617) 555-0199", mobile_phone="+1 617-555-0123")
                ],
            },
            token=system.token_for(us["id"]),
        )
    )["users"]
    assert (u["contact_phone"], u["mobile_phone"]) == ("+16175550199", "+16175550123")
    [g] = (
        await system.call(
            ADD,
            {"account_id": gb["id"], "users": [entry(email(), contact_phone="020 7946 0018")]},
            token=system.token_for(gb["id"]),
        )
    )["users"]
    assert g["contact_phone"] == "+442079460018"
    # changed with users.update, parsed the same way
    changed = await system.call(
        "identity.v1.users.update",
        {"account_id": us["id"], "user_id": u["id"], "fields": {"mobile_phone": "617.555.0142"}},
        token=system.token_for(us["id"]),
    )
    assert changed["mobile_phone"] == "+16175550142"


async def test_bad_local_phones_are_refused_naming_the_field(system: System) -> None:
    acc = await ready_account(system)
    token = system.token_for(acc["id"])
    err = await system.expect_error(
        "validation_failed",
        ADD,
        {
            "account_id": acc["id"],
            "users": [
                entry(email()),
                entry(email(), contact_phone="(617) 555-01"),
                entry(email(), mobile_phone="call me"),
            ],
        },
        token=token,
    )
    fields = sorted(e["field"] for e in err.details["errors"])
    assert fields == ["users[1].contact_phone", "users[2].mobile_phone"]
    listed = await system.call(LIST, {"account_id": acc["id"]}, token=token)
    assert listed["items"] == []


async def test_user_search_ignores_accents_and_case(system: System) -> None:
    acc = await ready_account(system)
    token = system.token_for(acc["id"])
    [elodie, other] = (
        await system.call(
            ADD,
            {
                "account_id": acc["id"],
                "users": [
                    entry(email("elo"), first_name="Élodie", last_name="Dupré"),
                    entry(email("bob"), first_name="Bob", last_name="Martin"),
                ],
            },
            token=token,
        )
    )["users"]

    async def found(query: str) -> list[str]:
        page = await system.call(LIST, {"account_id": acc["id"], "query": query}, token=token)
        return [u["id"] for u in page["items"]]

    for query in ("elodie", "ÉLODIE", "dupre", "Elodie Dupre", "élo"):
        assert await found(query) == [elodie["id"]], query
    assert await found("martin") == [other["id"]]
    assert await found(elodie["email"].upper()) == [elodie["id"]]
    assert await found(elodie["extension_number"]) == [elodie["id"]]
    assert await found("zoë") == []
    # a renamed user is found by the new name
    await system.call(
        "identity.v1.users.update",
        {"account_id": acc["id"], "user_id": other["id"], "fields": {"last_name": "Müller"}},
        token=token,
    )
    assert await found("muller") == [other["id"]]


async def test_a_user_on_a_site_takes_the_site_time_zone_unless_given_one(
    system: System,
) -> None:
    acc = await ready_account(system, multi_site=True)
    token = system.token_for(acc["id"])
    site = await system.call(
        "account.v1.sites.create",
        {"account_id": acc["id"], "name": "Paris", "time_zone": "Europe/Paris"},
        token=token,
    )

    async def add(**over: Any) -> dict[str, Any] | None:
        try:
            reply = await system.call(
                ADD,
                {"account_id": acc["id"], "users": [entry(email(), site_id=site["id"], **over)]},
                token=token,
            )
        except AppError as err:  # identity has not heard of the site yet
            if err.code != "validation_failed":
                raise
            return None
        return dict(reply["users"][0])

    on_site = await eventually(add, timeout=20)
    assert on_site["regional"]["time_zone"] == "Europe/Paris"
    given = await add(regional={"time_zone": "Asia/Tokyo"})
    assert given is not None and given["regional"]["time_zone"] == "Asia/Tokyo"
    [off_site] = (
        await system.call(ADD, {"account_id": acc["id"], "users": [entry(email())]}, token=token)
    )["users"]
    assert off_site["regional"]["time_zone"] != "Europe/Paris"

    # the site's time zone changes (the account service's site.updated): its users
    # without a time zone of their own follow it, the others keep theirs
    site_updated = CloudEvent(
        source="account",
        type="site.updated",
        data=site | {"site_id": site["id"], "time_zone": "Europe/Berlin", "changed": ["time_zone"]},
    )
    await system.harness_nc.jetstream().publish(
        "events.account.site.updated",
        site_updated.model_dump_json().encode(),
        headers={"Nats-Msg-Id": site_updated.id},
    )

    async def time_zone(user: dict[str, Any]) -> str:
        got = await system.call(
            "identity.v1.users.get", {"account_id": acc["id"], "user_id": user["id"]}, token=token
        )
        return str(got["regional"]["time_zone"])

    async def followed() -> bool:
        return await time_zone(on_site) == "Europe/Berlin"

    await eventually(followed, timeout=20)
    assert await time_zone(given) == "Asia/Tokyo"
    later = await add()
    assert later is not None and later["regional"]["time_zone"] == "Europe/Berlin"

    # a removed site takes no new users
    site_removed = CloudEvent(
        source="account",
        type="site.removed",
        data={"account_id": acc["id"], "site_id": site["id"], "name": site["name"]},
    )
    await system.harness_nc.jetstream().publish(
        "events.account.site.removed",
        site_removed.model_dump_json().encode(),
        headers={"Nats-Msg-Id": site_removed.id},
    )

    async def refused() -> bool:
        return await add() is None

    await eventually(refused, timeout=20)
