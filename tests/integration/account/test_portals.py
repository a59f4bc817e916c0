"""Multi-account portals: link codes, link/unlink, overview, switch."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from shared.db import database_url_for, to_plain_url

from tests.integration.account.helpers import publish_event, signed_in_admin, user_added
from tests.support.system import System, eventually, uid


async def portal_for(system: System) -> tuple[dict[str, Any], str]:
    home = await system.create_account()
    _, token = await signed_in_admin(system, home["id"])
    portal = await system.call("account.v1.portals.create", {"name": f"BPO {uid()}"}, token=token)
    return portal, token


async def code_for(system: System, account_id: str) -> str:
    reply = await system.call(
        "account.v1.portals.link_code",
        {"account_id": account_id},
        token=system.token_for(account_id),
    )
    return str(reply["link_code"])


async def test_link_code_links_once_and_portal_admin_cannot_configure_linked_account(
    system: System,
) -> None:
    portal, token = await portal_for(system)
    gb = await system.create_account(country="GB")
    code = await code_for(system, gb["id"])
    linked = await system.call(
        "account.v1.portals.link",
        {"portal_id": portal["id"], "account_id": gb["id"], "link_code": code},
        token=token,
    )
    assert linked["linked_accounts"] == 1
    err = await system.expect_error(
        "conflict",
        "account.v1.portals.link",
        {"portal_id": portal["id"], "account_id": gb["id"], "link_code": code},
        token=token,
    )
    assert err.details["reason"] == "used"
    await system.expect_error(
        "forbidden",
        "account.v1.portals.link",
        {"portal_id": portal["id"], "account_id": gb["id"], "link_code": "made-up"},
        token=token,
    )
    # the portal admin's own session changes nothing inside the linked account
    await system.expect_error(
        "forbidden",
        "account.v1.accounts.update_settings",
        {"account_id": gb["id"], "settings": {"international_calling": True}},
        token=token,
    )
    # nor may it issue a link code for an account it does not administer
    await system.expect_error(
        "forbidden", "account.v1.portals.link_code", {"account_id": gb["id"]}, token=token
    )


async def test_expired_link_code_is_refused(system: System) -> None:
    portal, token = await portal_for(system)
    acc = await system.create_account()
    code = await code_for(system, acc["id"])
    url = to_plain_url(database_url_for(system.database_url, f"{system.run_id}_account"))
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "UPDATE link_codes SET expires_at = $1 WHERE account_id = $2",
            datetime.now(UTC) - timedelta(minutes=1),
            acc["id"],
        )
    finally:
        await conn.close()
    err = await system.expect_error(
        "conflict",
        "account.v1.portals.link",
        {"portal_id": portal["id"], "account_id": acc["id"], "link_code": code},
        token=token,
    )
    assert err.details["reason"] == "expired"


async def test_overview_shows_countries_statuses_and_counts_then_unlink(system: System) -> None:
    portal, token = await portal_for(system)
    us = await system.create_account(country="US", name=f"A {uid()}")
    gb = await system.create_account(country="GB", name=f"B {uid()}")
    for acc in (us, gb):
        await system.call(
            "account.v1.portals.link",
            {
                "portal_id": portal["id"],
                "account_id": acc["id"],
                "link_code": await code_for(system, acc["id"]),
            },
            token=token,
        )
    await system.call(
        "account.v1.accounts.set_status",
        {"account_id": gb["id"], "status": "Suspended", "reason": "unpaid"},
        token=await system.operator_token(),
    )
    user = await user_added(system, us["id"], "standard")
    await publish_event(
        system,
        "events.invites.invite.sent",
        {
            "invite_id": uid("inv_"),
            "account_id": us["id"],
            "user_id": user,
            "email": f"{user}@example.com",
            "status": "Sent",
            "send_at": datetime.now(UTC).isoformat(),
        },
        "invites",
    )

    async def counted() -> Any:
        ov = await system.call(
            "account.v1.portals.overview", {"portal_id": portal["id"]}, token=token
        )
        first = ov["accounts"][0]
        return ov if first["users"] == 1 and first["pending_invites"] == 1 else None

    ov = await eventually(counted)
    rows = {a["account_id"]: a for a in ov["accounts"]}
    assert rows[us["id"]]["country"] == "US" and rows[us["id"]]["service_status"] == "onboarding"
    assert rows[gb["id"]]["country"] == "GB" and rows[gb["id"]]["service_status"] == "suspended"
    assert rows[gb["id"]]["status_reason"] == "unpaid"

    after = await system.call(
        "account.v1.portals.unlink",
        {"portal_id": portal["id"], "account_id": gb["id"]},
        token=token,
    )
    assert after["linked_accounts"] == 1
    await system.expect_error(
        "not_found",
        "account.v1.portals.unlink",
        {"portal_id": portal["id"], "account_id": gb["id"]},
        token=token,
    )
    # another admin's portal reveals nothing
    _, stranger = await portal_for(system)
    await system.expect_error(
        "not_found", "account.v1.portals.overview", {"portal_id": portal["id"]}, token=stranger
    )


@pytest.mark.slow
async def test_a_portal_links_a_thousand_accounts(system: System) -> None:
    portal, token = await portal_for(system)
    op = await system.operator_token()
    sem = asyncio.Semaphore(20)

    async def link_one(i: int) -> None:
        async with sem:
            acc = await system.call(
                "account.v1.accounts.create",
                {"name": f"Tenant {i} {uid()}", "country": "US" if i % 2 else "GB", "plan": "core"},
                token=op,
            )
            await system.call(
                "account.v1.portals.link",
                {
                    "portal_id": portal["id"],
                    "account_id": acc["id"],
                    "link_code": await code_for(system, acc["id"]),
                },
                token=token,
            )

    await asyncio.gather(*(link_one(i) for i in range(1000)))
    ov = await system.call(
        "account.v1.portals.overview", {"portal_id": portal["id"]}, token=token, timeout=30
    )
    assert len(ov["accounts"]) == 1000
    assert {a["country"] for a in ov["accounts"]} == {"US", "GB"}


async def test_switch_returns_a_session_for_a_linked_account_only(system: System) -> None:
    portal, token = await portal_for(system)
    linked = await system.create_account()
    unlinked = await system.create_account()
    await system.call(
        "account.v1.portals.link",
        {
            "portal_id": portal["id"],
            "account_id": linked["id"],
            "link_code": await code_for(system, linked["id"]),
        },
        token=token,
    )
    await system.expect_error(
        "not_found",
        "account.v1.portals.switch",
        {"portal_id": portal["id"], "account_id": unlinked["id"]},
        token=token,
    )
    session = await system.call(
        "account.v1.portals.switch",
        {"portal_id": portal["id"], "account_id": linked["id"]},
        token=token,
    )
    assert session["account_id"] == linked["id"] and session["token"]
    got = await system.call(
        "account.v1.accounts.get", {"account_id": linked["id"]}, token=session["token"]
    )
    assert got["id"] == linked["id"]
