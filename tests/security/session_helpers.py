"""Helpers of tests/security/test_sessions.py and test_least_privilege.py: real users,
as identity records them, and their sessions."""

from __future__ import annotations

import asyncio
from typing import Any

from shared.errors import AppError

from tests.support.system import System, email, uid

PASSWORD = "violet-harbour-47"
#: CONTRACT "Who may call what": a session stops working everywhere within 1 s
BOUND_SECONDS = 1.0


def credentials(password: str = PASSWORD, temporary: bool = False) -> dict[str, Any]:
    return {
        "option": "assign_credentials",
        "password": password,
        "temporary_password": temporary,
        "pin": "480213",
        "security_question": "First pet?",
        "security_answer": "Rex the dog",
    }


async def add_user(
    system: System,
    account_id: str,
    role: str = "Super Admin",
    setup: dict[str, Any] | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    entry = {
        "first_name": "Grace",
        "last_name": "Hopper",
        "email": email("sec"),
        "user_type": "mobile",
        "role": role,
        "setup": setup or credentials(),
    }
    reply = await system.call(
        "identity.v1.users.add",
        {"account_id": account_id, "users": [entry]},
        token=token or await system.operator_token(),
    )
    return dict(reply["users"][0])


async def login(system: System, user: dict[str, Any], password: str = PASSWORD) -> str:
    reply = await system.call(
        "identity.v1.auth.login", {"email": user["email"], "password": password}
    )
    return str(reply["token"])


async def read_user(system: System, user: dict[str, Any]) -> dict[str, Any]:
    """The user as identity has it now (read with the operator's session)."""
    return await system.call(
        "identity.v1.users.get",
        {"account_id": user["account_id"], "user_id": user["id"]},
        token=await system.operator_token(),
    )


def probes(user: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """One request per service that any session of the user may make; the answer
    (a result or a business error) shows the token was accepted."""
    acc = user["account_id"]
    return {
        "account": ("account.v1.accounts.get", {"account_id": acc}),
        "identity": ("identity.v1.users.get", {"account_id": acc, "user_id": user["id"]}),
        "invites": ("invites.v1.list", {"account_id": acc}),
        "engage": ("engage.v1.candidates.list", {"engage_account_id": f"eng_{uid()}"}),
    }


async def answer(system: System, subject: str, payload: dict[str, Any], token: str) -> str:
    """``ok`` or the error code."""
    try:
        await system.call(subject, payload, token=token)
        return "ok"
    except AppError as err:
        return err.code


async def codes(system: System, user: dict[str, Any], token: str) -> dict[str, str]:
    return {
        name: await answer(system, subject, payload, token)
        for name, (subject, payload) in probes(user).items()
    }


async def refused_everywhere_within_bound(
    system: System, user: dict[str, Any], token: str
) -> dict[str, str]:
    """Poll every service until each refuses the token as ``unauthenticated``; the poll
    ends at the bound (plus a margin for a loaded test machine)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BOUND_SECONDS + 0.5
    while True:
        got = await codes(system, user, token)
        if all(c == "unauthenticated" for c in got.values()) or loop.time() > deadline:
            return got
        await asyncio.sleep(0.02)


ALL_REFUSED = dict.fromkeys(("account", "identity", "invites", "engage"), "unauthenticated")
