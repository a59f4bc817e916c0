"""Agents follow the real identity service: a rename and a disable through
identity.v1.users.update, then identity.v1.users.remove (issue 12, offboarding)."""

from __future__ import annotations

from typing import Any

from shared import subjects as s
from tests.integration.engage.support import ADMIN, link, run_import, wait_directory
from tests.integration.identity.conftest import creds, entry, ready_account
from tests.support.system import System, email, eventually


async def _add(system: System, account_id: str, **over: Any) -> dict[str, Any]:
    reply = await system.call(
        "identity.v1.users.add",
        {"account_id": account_id, "users": [entry(email(), **over)]},
        token=await system.operator_token(),
    )
    return dict(reply["users"][0])


async def test_an_agent_follows_identitys_rename_disable_and_removal(system: System) -> None:
    acc = await ready_account(system)
    op = await system.operator_token()
    await _add(system, acc["id"], role="Super Admin", setup=creds())
    user = await _add(system, acc["id"], setup=creds(), first_name="Grace")
    lnk = await link(system, acc["id"])
    eid, token = lnk["engage_account_id"], system.token_for(acc["id"], ADMIN)
    await wait_directory(system, token, eid, 2)
    await run_import(system, token, eid, [user["id"]])
    agent_key = {"engage_account_id": eid, "user_id": user["id"]}
    sign_in = {"account_id": acc["id"], "user_id": user["id"]}
    await system.call(s.ENGAGE_VOICE_SIGN_IN, sign_in, token=token)

    await system.call(
        "identity.v1.users.update",
        {
            "account_id": acc["id"],
            "user_id": user["id"],
            "fields": {"first_name": "Hopper", "status": "Disabled"},
        },
        token=op,
    )

    async def disabled() -> dict[str, Any] | None:
        agent = await system.call(s.ENGAGE_AGENTS_GET, agent_key, token=token)
        return agent if agent["status"] == "Disabled" else None

    agent = await eventually(disabled, timeout=20)
    assert agent["first_name"] == "Hopper"
    err = await system.expect_error("conflict", s.ENGAGE_VOICE_SIGN_IN, sign_in, token=token)
    assert err.details["rule"] == "agent_disabled"

    await system.call(
        "identity.v1.users.remove", {"account_id": acc["id"], "user_id": user["id"]}, token=op
    )

    async def gone() -> bool:
        page = await system.call(s.ENGAGE_AGENTS_LIST, {"engage_account_id": eid}, token=token)
        return all(a["user_id"] != user["id"] for a in page["items"])

    await eventually(gone, timeout=20)
    await system.expect_error("not_found", s.ENGAGE_VOICE_SIGN_IN, sign_in, token=token)
