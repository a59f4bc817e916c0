"""Least privilege on the target (issue 9, "What was seen" 3 and 7's second sentence;
DOMAIN.md 6 "Least privilege").

A caller may set the credentials of, change, or remove only users whose role's
permissions are within its own, and may grant only permissions it holds; the last
enabled user holding every permission cannot be disabled or demoted. Every refused
attempt changes nothing: the user read back is the same."""

from __future__ import annotations

from typing import Any

import pytest
from shared.auth import Perm
from shared.errors import AppError

from tests.security.session_helpers import (
    PASSWORD,
    add_user,
    answer,
    credentials,
    login,
    read_user,
)
from tests.security.snapshot import unchanged
from tests.support.system import System, eventually, uid

ACTIVATE_LATER = {"option": "activate_later"}


async def _account_with_super_admin(system: System) -> tuple[str, dict[str, Any]]:
    acc = await system.create_account()
    await add_user(system, acc["id"])  # the account's enabled full admin
    target = await add_user(system, acc["id"], role="Super Admin", setup=ACTIVATE_LATER)
    return acc["id"], target


@pytest.mark.parametrize("role", ["Users Admin", "Phone System Admin"])
async def test_a_lesser_admin_cannot_set_a_super_admins_credentials(
    system: System, role: str
) -> None:
    account_id, target = await _account_with_super_admin(system)
    admin = await add_user(system, account_id, role=role)
    token = await login(system, admin)
    before = await read_user(system, target)
    cmd = {"account_id": account_id, "user_id": target["id"]} | {
        k: v for k, v in credentials().items() if k != "option"
    }
    async with unchanged(system):  # nothing in any database
        err = await system.expect_error(
            "forbidden", "identity.v1.users.assign_credentials", cmd, token=token
        )
    assert err.details["missing_permissions"]  # what the target holds and the caller lacks
    assert await read_user(system, target) == before
    assert before["status"] == "NotActivated"
    signin = {"email": target["email"], "password": PASSWORD}
    assert await answer(system, "identity.v1.auth.login", signin, "") == "unauthenticated"


async def test_a_users_admin_can_neither_demote_nor_disable_a_super_admin(
    system: System,
) -> None:
    acc = await system.create_account()
    await add_user(system, acc["id"])
    target = await add_user(system, acc["id"])  # an enabled Super Admin
    admin = await add_user(system, acc["id"], role="Users Admin")
    token = await login(system, admin)
    before = await read_user(system, target)
    async with unchanged(system):  # nothing in any database
        for fields in (
            {"role": "Standard User"},
            {"status": "Disabled"},
            {"job_title": "Intern"},
        ):
            await system.expect_error(
                "forbidden",
                "identity.v1.users.update",
                {"account_id": acc["id"], "user_id": target["id"], "fields": fields},
                token=token,
            )
    assert await read_user(system, target) == before
    # and the Super Admin's session still works: nothing was revoked
    session = await login(system, target)
    assert (
        await answer(system, "account.v1.accounts.get", {"account_id": acc["id"]}, session) == "ok"
    )


async def test_nobody_grants_a_role_beyond_their_own(system: System) -> None:
    acc = await system.create_account()
    await add_user(system, acc["id"])
    plain = await add_user(system, acc["id"], role="Standard User")
    admin = await add_user(system, acc["id"], role="Users Admin")
    token = await login(system, admin)
    before = await read_user(system, plain)
    async with unchanged(system):  # nothing in any database
        await system.expect_error(
            "forbidden",
            "identity.v1.users.update",
            {"account_id": acc["id"], "user_id": plain["id"], "fields": {"role": "Super Admin"}},
            token=token,
        )
        assert await read_user(system, plain) == before
        await system.expect_error(
            "forbidden",
            "identity.v1.roles.create",
            {
                "account_id": acc["id"],
                "name": f"Buyer {uid()}",
                "permissions": [Perm.ACCOUNT_MANAGE],
            },
            token=token,
        )
    roles = await system.call("identity.v1.roles.list", {"account_id": acc["id"]}, token=token)
    assert all(r["predefined"] for r in roles["items"])
    # within its own rights it may: a Users Admin makes someone a Users Admin
    changed = await system.call(
        "identity.v1.users.update",
        {"account_id": acc["id"], "user_id": plain["id"], "fields": {"role": "Users Admin"}},
        token=token,
    )
    assert changed["role"] == "Users Admin"


async def test_the_last_full_admin_cannot_be_disabled_or_demoted(system: System) -> None:
    acc = await system.create_account()
    last = await add_user(system, acc["id"])
    before = await read_user(system, last)
    operator = await system.operator_token()
    async with unchanged(system):  # nothing in any database
        for fields in ({"status": "Disabled"}, {"role": "Users Admin"}):
            err = await system.expect_error(
                "conflict",
                "identity.v1.users.update",
                {"account_id": acc["id"], "user_id": last["id"], "fields": fields},
                token=operator,
            )
            assert err.details["rule"] == "last_full_admin"
    assert await read_user(system, last) == before
    # with a second full admin, the first may go
    await add_user(system, acc["id"])
    done = await system.call(
        "identity.v1.users.update",
        {"account_id": acc["id"], "user_id": last["id"], "fields": {"status": "Disabled"}},
        token=operator,
    )
    assert done["status"] == "Disabled"


async def test_engage_answers_another_accounts_id_as_a_missing_one(system: System) -> None:
    """Item 7: the reply for another account's Engage account is the same as for one
    that does not exist, so it reveals nothing."""
    mine = await system.create_account()
    theirs = await system.create_account()
    operator = await system.operator_token()

    async def link() -> dict[str, Any] | None:
        payload = {"engage_account": {"name": f"E {uid()}"}, "account_id": theirs["id"]}
        try:
            return await system.call("engage.v1.links.create", payload, token=operator)
        except AppError as err:  # engage has not heard of the account yet
            if err.code != "not_found":
                raise
            return None

    lnk = await eventually(link, timeout=20)
    token = system.token_for(mine["id"])
    for subject in ("engage.v1.candidates.list", "engage.v1.agents.list", "engage.v1.teams.list"):
        other = await system.raw(
            subject, {"engage_account_id": lnk["engage_account_id"]}, token=token
        )
        missing = await system.raw(subject, {"engage_account_id": f"eng_{uid()}"}, token=token)
        assert other.error_code == missing.error_code == "not_found"
        assert other.body["error"]["message"] == missing.body["error"]["message"]
