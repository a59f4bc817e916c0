"""identity: integrations, other systems' credentials for directory requests."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from identity.adapters.tables import integrations as integrations_table
from shared.auth import Perm

from tests.integration.identity.conftest import ready_account
from tests.support.system import System, uid

CREATE = "identity.v1.integrations.create"
LIST = "identity.v1.integrations.list"
REVOKE = "identity.v1.integrations.revoke"

USERS_ADMIN = [
    Perm.ACCOUNT_READ,
    Perm.USERS_READ,
    Perm.USERS_MANAGE,
    Perm.ROLES_MANAGE,
    Perm.INVITES_MANAGE,
    Perm.SELF,
]


async def test_the_token_is_shown_once_and_kept_only_as_its_hash(system: System) -> None:
    acc = await ready_account(system)
    token = system.token_for(acc["id"])
    made = await system.call(
        CREATE, {"account_id": acc["id"], "name": "HR sync", "role": "Users Admin"}, token=token
    )
    secret = made["token"]
    assert secret.startswith("itg_") and len(secret) >= 40
    assert made["token_prefix"] == secret[:12]
    assert made["role"] == "Users Admin" and made["revoked_at"] is None
    page = await system.call(LIST, {"account_id": acc["id"]}, token=token)
    assert [i["id"] for i in page["items"]] == [made["id"]]
    assert page["items"][0]["token"] is None
    identity = system.services["identity"]
    assert identity.sessions is not None
    async with identity.sessions() as s:
        row = (
            await s.execute(
                sa.select(integrations_table).where(integrations_table.c.id == made["id"])
            )
        ).one()
    assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in [str(v) for v in row]


async def test_list_is_paged(system: System) -> None:
    acc = await ready_account(system)
    token = system.token_for(acc["id"])
    made = [
        (
            await system.call(
                CREATE,
                {"account_id": acc["id"], "name": f"sync {i}", "role": "Standard User"},
                token=token,
            )
        )["id"]
        for i in range(3)
    ]
    first = await system.call(LIST, {"account_id": acc["id"], "limit": 2}, token=token)
    assert first["next_cursor"]
    rest = await system.call(
        LIST, {"account_id": acc["id"], "limit": 2, "cursor": first["next_cursor"]}, token=token
    )
    assert [i["id"] for i in first["items"] + rest["items"]] == sorted(made)
    assert rest["next_cursor"] is None


async def test_only_a_user_manager_holding_the_role_may_create_one(system: System) -> None:
    acc, other = await ready_account(system), await ready_account(system)
    users_admin = system.token_for(acc["id"], permissions=USERS_ADMIN)
    reader = system.token_for(acc["id"], permissions=[Perm.USERS_READ, Perm.SELF])
    body = {"account_id": acc["id"], "name": "HR sync"}
    await system.expect_error(
        "forbidden", CREATE, body | {"role": "Super Admin"}, token=users_admin
    )
    await system.expect_error(
        "forbidden", CREATE, body | {"role": "Phone System Admin"}, token=users_admin
    )
    await system.expect_error("forbidden", CREATE, body | {"role": "Standard User"}, token=reader)
    await system.expect_error(
        "forbidden",
        CREATE,
        {"account_id": other["id"], "name": "x", "role": "Standard User"},
        token=users_admin,
    )
    await system.expect_error(
        "validation_failed", CREATE, body | {"role": "Chief Wizard"}, token=users_admin
    )
    made = await system.call(CREATE, body | {"role": "Users Admin"}, token=users_admin)
    assert made["created_by"]
    await system.expect_error("unauthenticated", LIST, {"account_id": acc["id"]})


async def test_revoke_marks_the_integration_and_an_unknown_one_is_not_found(
    system: System,
) -> None:
    acc, other = await ready_account(system), await ready_account(system)
    token = system.token_for(acc["id"])
    made = await system.call(
        CREATE, {"account_id": acc["id"], "name": "HR", "role": "Users Admin"}, token=token
    )
    await system.expect_error(
        "forbidden",
        REVOKE,
        {"account_id": acc["id"], "integration_id": made["id"]},
        token=system.token_for(other["id"]),
    )
    revoked = await system.call(
        REVOKE, {"account_id": acc["id"], "integration_id": made["id"]}, token=token
    )
    assert revoked["revoked_at"] is not None and revoked["token"] is None
    again = await system.call(
        REVOKE, {"account_id": acc["id"], "integration_id": made["id"]}, token=token
    )
    assert again["revoked_at"] == revoked["revoked_at"]
    await system.expect_error(
        "not_found", REVOKE, {"account_id": acc["id"], "integration_id": uid("itg_")}, token=token
    )
    await system.expect_error(
        "not_found",
        REVOKE,
        {"account_id": other["id"], "integration_id": made["id"]},
        token=system.token_for(other["id"]),
    )
