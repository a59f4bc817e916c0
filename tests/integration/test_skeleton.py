"""The running skeleton: health, the operator slice, the error contract."""

from __future__ import annotations

import asyncpg
from shared.auth import Perm
from shared.db import database_url_for, to_plain_url

from tests.support.system import System, eventually, uid

HEALTH = ["account.v1.health", "identity.v1.health", "invites.v1.health", "engage.v1.health"]


async def test_every_service_answers_health(system: System) -> None:
    for subject in HEALTH:
        body = await system.call(subject)
        assert body["status"] == "ok", body
        assert body["database"] == "ok" and body["broker"] == "ok"
        assert body["version"]


async def test_operator_signs_in_creates_gets_and_lists_accounts(system: System) -> None:
    token = await system.operator_token()
    created = await system.create_account(name=f"Globex {uid()}", country="GB", plan="advanced")
    assert created["status"] == "Active"
    assert created["settings"]["require_unique_email"] is True
    assert created["settings"]["default_time_zone"] == "Europe/London"
    got = await system.call("account.v1.accounts.get", {"account_id": created["id"]}, token=token)
    assert got == created
    page = await system.call(
        "account.v1.accounts.list", {"query": created["name"], "limit": 5}, token=token
    )
    assert [a["id"] for a in page["items"]] == [created["id"]]
    assert page["next_cursor"] is None


async def test_identity_keeps_the_facts_of_a_new_account(system: System) -> None:
    created = await system.create_account(plan="core", multi_site=True, extension_length=5)
    url = to_plain_url(database_url_for(system.database_url, f"{system.run_id}_identity"))

    async def projected() -> object:
        conn = await asyncpg.connect(url)
        try:
            return await conn.fetchrow(
                "SELECT plan, multi_site, extension_length, require_unique_email FROM accounts"
                " WHERE account_id = $1",
                created["id"],
            )
        finally:
            await conn.close()

    row = await eventually(projected)
    assert dict(row) == {
        "plan": "core",
        "multi_site": True,
        "extension_length": 5,
        "require_unique_email": True,
    }


async def test_bad_json_is_a_validation_error_with_headers(system: System) -> None:
    reply = await system.raw(
        "account.v1.accounts.get", b"{not json", token=await system.operator_token()
    )
    assert reply.error_code == "validation_failed"
    assert reply.headers["Nats-Service-Error-Code"] == "400"
    assert reply.headers["Nats-Service-Error"]
    assert reply.body["error"]["details"]["errors"][0]["field"] == "body"


async def test_unknown_fields_are_refused_and_named(system: System) -> None:
    reply = await system.raw(
        "account.v1.accounts.create",
        {"name": "X", "country": "US", "plan": "core", "colour": "blue"},
        token=await system.operator_token(),
    )
    assert reply.error_code == "validation_failed"
    fields = [e["field"] for e in reply.body["error"]["details"]["errors"]]
    assert fields == ["colour"]


async def test_missing_token_is_unauthenticated(system: System) -> None:
    reply = await system.raw("account.v1.accounts.get", {"account_id": "acc_x"})
    assert reply.error_code == "unauthenticated"
    assert reply.headers["Nats-Service-Error-Code"] == "401"


async def test_garbage_token_is_unauthenticated(system: System) -> None:
    reply = await system.raw(
        "account.v1.accounts.get", {"account_id": "acc_x"}, token="abc.def.ghi"
    )
    assert reply.error_code == "unauthenticated"


async def test_another_accounts_token_is_forbidden_and_reveals_nothing(system: System) -> None:
    mine = await system.create_account()
    theirs = await system.create_account()
    token = system.token_for(mine["id"], [Perm.ACCOUNT_READ])
    reply = await system.raw("account.v1.accounts.get", {"account_id": theirs["id"]}, token=token)
    assert reply.error_code == "forbidden"
    assert reply.headers["Nats-Service-Error-Code"] == "403"
    assert theirs["name"] not in str(reply.body)
    # and the same answer for an account that does not exist at all
    ghost = await system.raw("account.v1.accounts.get", {"account_id": "acc_nope"}, token=token)
    assert ghost.error_code == "forbidden"


async def test_account_admin_cannot_use_operator_subjects(system: System) -> None:
    acc = await system.create_account()
    token = system.token_for(acc["id"])
    reply = await system.raw(
        "account.v1.accounts.create", {"name": "X", "country": "US", "plan": "core"}, token=token
    )
    assert reply.error_code == "forbidden"


async def test_wrong_password_is_a_generic_failure(system: System) -> None:
    for email in (system.operator_email, f"nobody-{uid()}@example.com"):
        reply = await system.raw(
            "identity.v1.auth.login", {"email": email, "password": "wrong-password"}
        )
        assert reply.error_code == "unauthenticated"
        assert reply.body["error"]["message"] == "The email or password is not correct."


async def test_bad_country_and_plan_name_their_fields(system: System) -> None:
    reply = await system.raw(
        "account.v1.accounts.create",
        {"name": "X", "country": "QQ", "plan": "mega"},
        token=await system.operator_token(),
    )
    fields = sorted(e["field"] for e in reply.body["error"]["details"]["errors"])
    assert fields == ["country", "plan"]
