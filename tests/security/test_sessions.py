"""Revocable sessions (issue 9, "What was seen" 2 and 8; CONTRACT "Who may call what").

A session stops working on every service within about a second once its user is
disabled, demoted or removed (issue 12), its password changed or reset (issue 12), it
logs out, its account is suspended or its portal link removed; a switched session
cannot switch again; identity re-checks the caller of a portal switch; a
temporary-password session may only change the password."""

from __future__ import annotations

from typing import Any

from shared.auth import Perm
from shared.errors import AppError, Unauthenticated

from tests.security.session_helpers import (
    ALL_REFUSED,
    PASSWORD,
    add_user,
    answer,
    codes,
    credentials,
    login,
    read_user,
    refused_everywhere_within_bound,
)
from tests.security.snapshot import unchanged
from tests.support.system import System, eventually, uid


async def _admin_with_session(system: System) -> tuple[dict[str, Any], str]:
    acc = await system.create_account()
    # a second full admin, so that the one under test may be disabled or demoted
    await add_user(system, acc["id"])
    user = await add_user(system, acc["id"])
    token = await login(system, user)
    accepted = await codes(system, user, token)
    assert "unauthenticated" not in accepted.values(), accepted
    return user, token


async def _update(system: System, user: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return await system.call(
        "identity.v1.users.update",
        {"account_id": user["account_id"], "user_id": user["id"], "fields": fields},
        token=await system.operator_token(),
    )


async def test_a_disabled_users_session_is_refused_on_every_service(system: System) -> None:
    user, token = await _admin_with_session(system)
    await _update(system, user, status="Disabled")
    assert await refused_everywhere_within_bound(system, user, token) == ALL_REFUSED


async def test_a_demoted_users_session_is_refused_and_a_new_one_has_the_new_rights(
    system: System,
) -> None:
    user, token = await _admin_with_session(system)
    await _update(system, user, role="Standard User")
    assert await refused_everywhere_within_bound(system, user, token) == ALL_REFUSED
    # a session opened right after the change is valid, with the narrower rights
    fresh = await login(system, user)
    assert await answer(system, "identity.v1.users.get", _self(user), fresh) == "ok"
    listing = {"account_id": user["account_id"]}
    assert await answer(system, "identity.v1.users.list", listing, fresh) == "forbidden"


def _self(user: dict[str, Any]) -> dict[str, Any]:
    return {"account_id": user["account_id"], "user_id": user["id"]}


async def test_a_password_change_ends_every_session_of_the_user(system: System) -> None:
    user, token = await _admin_with_session(system)
    other = await login(system, user)
    await system.call(
        "identity.v1.auth.change_password",
        {"current_password": PASSWORD, "new_password": "amber-lantern-93"},
        token=token,
    )
    assert await refused_everywhere_within_bound(system, user, token) == ALL_REFUSED
    assert await refused_everywhere_within_bound(system, user, other) == ALL_REFUSED
    fresh = await login(system, user, "amber-lantern-93")
    assert await answer(system, "identity.v1.users.get", _self(user), fresh) == "ok"


async def test_a_removed_users_sessions_are_refused_on_every_service(system: System) -> None:
    user, token = await _admin_with_session(system)
    other = await login(system, user)
    removed = await system.call(
        "identity.v1.users.remove", _self(user), token=await system.operator_token()
    )
    assert removed["status"] == "Removed"
    assert await refused_everywhere_within_bound(system, user, token) == ALL_REFUSED
    assert await refused_everywhere_within_bound(system, user, other) == ALL_REFUSED
    r = await system.raw("identity.v1.auth.login", {"email": user["email"], "password": PASSWORD})
    assert r.error_code == "unauthenticated"


async def test_a_password_reset_ends_every_session_of_the_user(system: System) -> None:
    user, token = await _admin_with_session(system)
    other = await login(system, user)
    await system.call(
        "identity.v1.users.reset_credentials",
        _self(user) | {"password": "amber-lantern-93", "temporary_password": False},
        token=await system.operator_token(),
    )
    assert await refused_everywhere_within_bound(system, user, token) == ALL_REFUSED
    assert await refused_everywhere_within_bound(system, user, other) == ALL_REFUSED
    fresh = await login(system, user, "amber-lantern-93")
    assert await answer(system, "identity.v1.users.get", _self(user), fresh) == "ok"


async def test_logout_ends_that_session_only(system: System) -> None:
    user, token = await _admin_with_session(system)
    other = await login(system, user)
    assert await system.call("identity.v1.auth.logout", {}, token=token) == {"ok": True}
    assert await refused_everywhere_within_bound(system, user, token) == ALL_REFUSED
    assert "unauthenticated" not in (await codes(system, user, other)).values()


async def test_suspending_the_account_ends_its_sessions(system: System) -> None:
    user, token = await _admin_with_session(system)
    operator = await system.operator_token()
    status = {"account_id": user["account_id"]}
    await system.call(
        "account.v1.accounts.set_status",
        status | {"status": "Suspended", "reason": "unpaid"},
        token=operator,
    )
    assert await refused_everywhere_within_bound(system, user, token) == ALL_REFUSED
    # while suspended, its users cannot even sign in (DOMAIN.md section 6), and a
    # session minted for one anyway (a portal switch, a test key) works nowhere
    creds = {"email": user["email"], "password": PASSWORD}

    async def sign_in_refused() -> bool:
        try:
            await system.call("identity.v1.auth.login", creds)
        except AppError as err:
            return err.code == "forbidden" and err.details.get("reason") == "account_suspended"
        return False

    # polled once a second: each sign-in counts against the email's throttle
    assert await eventually(sign_in_refused, timeout=15, interval=1.0)
    during = system.token_for(user["account_id"], user_id=user["id"])
    assert await refused_everywhere_within_bound(system, user, during) == ALL_REFUSED
    await system.call(
        "account.v1.accounts.set_status", status | {"status": "Active"}, token=operator
    )
    # reactivated: the old sessions stay dead, a new one works
    assert await refused_everywhere_within_bound(system, user, token) == ALL_REFUSED

    async def signed_in() -> str | None:
        try:
            return await login(system, user)
        except AppError as err:
            if err.code not in ("forbidden", "limit_exceeded"):
                raise
            return None  # identity has not heard of the reactivation yet (or throttled)

    fresh = await eventually(signed_in, timeout=15, interval=1.0)

    async def accepted() -> bool:
        return "unauthenticated" not in (await codes(system, user, fresh)).values()

    assert await eventually(accepted, timeout=2)


# --- portals: item 2 ------------------------------------------------------------------


async def _code(system: System, account_id: str) -> str:
    reply = await system.call(
        "account.v1.portals.link_code",
        {"account_id": account_id},
        token=system.token_for(account_id),
    )
    return str(reply["link_code"])


async def _portal_with_link(
    system: System, owner_token: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    portal = await system.call(
        "account.v1.portals.create", {"name": f"BPO {uid()}"}, token=owner_token
    )
    linked = await system.create_account()
    await system.call(
        "account.v1.portals.link",
        {
            "portal_id": portal["id"],
            "account_id": linked["id"],
            "link_code": await _code(system, linked["id"]),
        },
        token=owner_token,
    )
    return portal, linked


async def _switch(system: System, portal: dict[str, Any], account_id: str, token: str) -> str:
    return await answer(
        system,
        "account.v1.portals.switch",
        {"portal_id": portal["id"], "account_id": account_id},
        token,
    )


async def test_a_demoted_and_disabled_super_admin_can_no_longer_switch(system: System) -> None:
    user, token = await _admin_with_session(system)
    portal, linked = await _portal_with_link(system, token)
    assert await _switch(system, portal, linked["id"], token) == "ok"
    await _update(system, user, role="Standard User", status="Disabled")
    assert await refused_everywhere_within_bound(system, user, token) == ALL_REFUSED
    acc = {"account_id": user["account_id"]}
    operator = await system.operator_token()
    before = await system.call("identity.v1.users.list", acc, token=operator)
    async with unchanged(system):  # nothing in any database
        assert await _switch(system, portal, linked["id"], token) == "unauthenticated"
        # nor do users.list and users.add work with the old token; nothing is added
        assert await answer(system, "identity.v1.users.list", acc, token) == "unauthenticated"
        entry = {
            "first_name": "Eve",
            "last_name": "Intruder",
            "email": f"eve-{uid()}@example.com",
            "user_type": "mobile",
            "role": "Super Admin",
            "setup": {"option": "activate_later"},
        }
        adding = acc | {"users": [entry]}
        assert await answer(system, "identity.v1.users.add", adding, token) == "unauthenticated"
    assert await system.call("identity.v1.users.list", acc, token=operator) == before


async def test_a_switched_session_cannot_switch_again(system: System) -> None:
    _, token = await _admin_with_session(system)
    portal, linked = await _portal_with_link(system, token)
    switched = await system.call(
        "account.v1.portals.switch",
        {"portal_id": portal["id"], "account_id": linked["id"]},
        token=token,
    )
    assert await _switch(system, portal, linked["id"], switched["token"]) == "forbidden"
    # nor by calling identity's mint directly with it (NATS lets only the account
    # service publish there: this is what a compromised account service could try)
    reply = await system.raw(
        "identity.v1.auth.mint",
        {"account_id": linked["id"], "user_id": switched["user_id"], "portal_id": portal["id"]},
        token=switched["token"],
        headers={"X-Internal-Key": system.internal_key},
        via=system.harness_nc,
    )
    assert reply.error_code == "forbidden"


async def test_mint_rechecks_the_callers_rights_on_identitys_records(system: System) -> None:
    """A token claiming portals.manage for a user whose role does not hold it (rights
    narrowed, or a stale claim) does not switch: identity checks its own records."""
    acc = await system.create_account()
    plain = await add_user(system, acc["id"], role="Standard User")
    stale = system.token_for(acc["id"], Perm.ALL, user_id=plain["id"])
    portal, linked = await _portal_with_link(system, stale)
    assert await _switch(system, portal, linked["id"], stale) == "forbidden"


async def test_unlinking_ends_the_sessions_switched_through_that_link(system: System) -> None:
    _, token = await _admin_with_session(system)
    portal, linked = await _portal_with_link(system, token)
    switched = await system.call(
        "account.v1.portals.switch",
        {"portal_id": portal["id"], "account_id": linked["id"]},
        token=token,
    )
    got = {"account_id": linked["id"]}
    assert await answer(system, "account.v1.accounts.get", got, switched["token"]) == "ok"
    # the linked account's own admin unlinks it (item 4: not only the portal's owner)
    account_admin = system.token_for(linked["id"], [Perm.ACCOUNT_MANAGE, Perm.ACCOUNT_READ])
    await system.call(
        "account.v1.portals.unlink",
        {"portal_id": portal["id"], "account_id": linked["id"]},
        token=account_admin,
    )
    fake_user = {"account_id": linked["id"], "id": switched["user_id"]}
    refused = await refused_everywhere_within_bound(system, fake_user, switched["token"])
    assert refused == ALL_REFUSED
    # the owner's own session is untouched
    assert await answer(system, "account.v1.portals.create", {"name": "x"}, token) == "ok"


async def test_an_accounts_admin_unlinks_it_from_any_portal_and_nothing_else(
    system: System,
) -> None:
    """Item 4: the account's admins (account.manage) may unlink; an admin of another
    account, or one without the permission, may not, and nothing changes."""
    _, token = await _admin_with_session(system)
    portal, linked = await _portal_with_link(system, token)
    cmd = {"portal_id": portal["id"], "account_id": linked["id"]}
    reader = system.token_for(linked["id"], [Perm.ACCOUNT_READ])
    stranger = system.token_for((await system.create_account())["id"], Perm.ALL)
    for who in (reader, stranger):
        assert await answer(system, "account.v1.portals.unlink", cmd, who) in {
            "forbidden",
            "not_found",
        }
    overview = {"portal_id": portal["id"]}
    before = await system.call("account.v1.portals.overview", overview, token=token)
    assert [a["account_id"] for a in before["accounts"]] == [linked["id"]]
    admin = system.token_for(linked["id"], [Perm.ACCOUNT_MANAGE])
    reply = await system.call("account.v1.portals.unlink", cmd, token=admin)
    assert reply["linked_accounts"] == 0
    after = await system.call("account.v1.portals.overview", overview, token=token)
    assert after["accounts"] == []


# --- temporary passwords: item 8 --------------------------------------------------------


async def test_a_temporary_password_session_may_only_change_the_password(
    system: System,
) -> None:
    acc = await system.create_account()
    user = await add_user(system, acc["id"], role="Super Admin", setup=credentials(temporary=True))
    token = await login(system, user)
    before = await read_user(system, user)
    location = {
        "line1": "1 Main St",
        "city": "Springfield",
        "postal_code": "12345",
        "country": "US",
    }
    attempts = [
        ("identity.v1.users.get", _self(user)),
        ("identity.v1.users.set_emergency_location", _self(user) | {"location": location}),
        ("identity.v1.users.list", {"account_id": acc["id"]}),
        ("engage.v1.voice.sign_in", _self(user)),
        ("account.v1.accounts.get", {"account_id": acc["id"]}),
        ("invites.v1.list", {"account_id": acc["id"]}),
    ]
    async with unchanged(system):  # nothing in any database
        for subject, payload in attempts:
            err = await system.expect_error("forbidden", subject, payload, token=token)
            assert "change the password first" in err.message
    assert await read_user(system, user) == before
    await system.call(
        "identity.v1.auth.change_password",
        {"current_password": PASSWORD, "new_password": "amber-lantern-93"},
        token=token,
    )
    fresh = await login(system, user, "amber-lantern-93")
    assert await answer(system, "identity.v1.users.get", _self(user), fresh) == "ok"


# --- failing closed -------------------------------------------------------------------


async def test_a_service_that_cannot_follow_revocations_refuses_every_token(
    system: System,
) -> None:
    """A service instance whose revocation watch stops (here: cancelled) refuses tokens
    as ``unauthenticated`` instead of trusting them."""
    acc = await system.create_account()
    token = system.token_for(acc["id"])
    replica = await system.start("account")
    try:
        assert replica.verifier.verify(token).account_id == acc["id"]
        [watch] = [t for t in replica._tasks if t.get_name() == "revocations"]
        watch.cancel()

        def refused() -> bool:
            try:
                replica.verifier.verify(token)
            except Unauthenticated as err:
                return bool(err.details["reason"] == "revocations_unknown")
            return False

        assert await eventually(refused, timeout=15)
    finally:
        await replica.app.stop()
