"""Issue 12's offboarding flow, across the four service processes of `make run`: a
user with a desk phone and a direct number, imported as a contact-centre agent and
signed in to Engage Voice, is removed. Afterwards its session, its agent, its
invitation link and its Voice session are dead, the phone, the number and the
license are back in the inventory, and the email can be added anew."""

from __future__ import annotations

import uuid
from typing import Any

from shared.errors import AppError

from tests.e2e.conftest import E2E
from tests.e2e.test_flows import addr, new_account
from tests.support.system import eventually

pytestmark = __import__("pytest").mark.slow

PASSWORD = "correct horse battery staple"


def free(inv: dict[str, Any]) -> dict[str, Any]:
    return dict(inv["free"])


async def test_offboarding_a_user_leaves_nothing_behind(e2e: E2E) -> None:
    op = await e2e.operator()
    acc = await new_account(e2e)
    account_id = acc["id"]
    # inventory: a standard license, a number and a desk phone, bought up front
    await e2e.call(
        "account.v1.inventory.purchase",
        {
            "account_id": account_id,
            "acknowledge_charges": True,
            "items": [
                {"kind": "license", "user_type": "standard", "quantity": 1},
                {"kind": "number", "quantity": 1},
                {"kind": "device", "model": "Poly VVX 450", "quantity": 1},
            ],
        },
        op,
    )
    inv = await e2e.call("account.v1.inventory.get", {"account_id": account_id}, op)
    before = free(inv)
    number = next(n["number"] for n in inv["numbers"] if n["status"] == "free")
    device = next(d["id"] for d in inv["devices"] if d["status"] == "free")

    # the user: invited, with the phone and the number from inventory
    mail = addr("leaver")
    added = await e2e.call(
        "identity.v1.users.add",
        {
            "account_id": account_id,
            "users": [
                {
                    "first_name": "Lee",
                    "last_name": "Ver",
                    "email": mail,
                    "user_type": "standard",
                    "phone": {"source": "inventory", "device_id": device},
                    "phone_number": {"source": "inventory", "number": number},
                    "setup": {"option": "send_invite"},
                }
            ],
        },
        op,
    )
    user_id = added["users"][0]["id"]
    during = free(await e2e.call("account.v1.inventory.get", {"account_id": account_id}, op))
    assert during != before  # the license, the number and the phone are taken

    # activated from the emailed link, signed in
    msgs = await eventually(lambda: e2e.mails_to(mail), timeout=30)
    link_token = E2E.activation_token(msgs[0])
    await e2e.call("identity.v1.activation.complete", {"token": link_token, "password": PASSWORD})
    session = await e2e.call("identity.v1.auth.login", {"email": mail, "password": PASSWORD})
    own = str(session["token"])
    me = await e2e.call(
        "identity.v1.users.get", {"account_id": account_id, "user_id": user_id}, own
    )
    assert me["status"] == "Enabled"

    # an agent in the linked contact-centre account, signed in to Engage Voice
    async def linked() -> dict[str, Any] | None:
        try:
            return await e2e.call(
                "engage.v1.links.create",
                {
                    "engage_account": {"name": f"CC {uuid.uuid4().hex[:6]}"},
                    "account_id": account_id,
                },
                op,
            )
        except Exception:
            return None

    eng = (await eventually(linked, timeout=30))["engage_account_id"]
    job = await e2e.call(
        "engage.v1.agents.import",
        {"engage_account_id": eng, "user_ids": [user_id], "role_id": "agent"},
        op,
    )

    async def imported() -> dict[str, Any] | None:
        got = await e2e.call(
            "engage.v1.imports.get", {"engage_account_id": eng, "import_id": job["id"]}, op
        )
        return got if got["status"] == "finished" else None

    done = await eventually(imported, timeout=60)
    assert done["counts"]["imported"] == 1, done
    agent_id = done["results"][0]["agent_id"]
    voice = await e2e.call(
        "engage.v1.voice.sign_in", {"account_id": account_id, "user_id": user_id}, own
    )
    assert voice["status"] == "signed_in"

    # removed
    gone = await e2e.call(
        "identity.v1.users.remove", {"account_id": account_id, "user_id": user_id}, op
    )
    assert gone["status"] == "Removed"

    # the session is dead
    async def session_dead() -> bool:
        # any answer but "unauthenticated" (even not_found) means the token still works
        try:
            await e2e.call(
                "identity.v1.users.get", {"account_id": account_id, "user_id": user_id}, own
            )
        except AppError as err:
            return err.code == "unauthenticated"
        return False

    await eventually(session_dead, timeout=10)

    # the agent is gone and signed out of Voice
    async def agent_gone() -> bool:
        try:
            await e2e.call(
                "engage.v1.agents.get", {"engage_account_id": eng, "agent_id": agent_id}, op
            )
        except AppError as err:
            return err.code == "not_found"
        return False

    await eventually(agent_gone, timeout=30)
    # Engage Voice refuses the user even to an operator (its session ended with the agent)
    err = await e2e.error(
        "engage.v1.voice.sign_in", {"account_id": account_id, "user_id": user_id}, op
    )
    assert err.code == "not_found", err
    # the invitation link is dead
    err = await e2e.error(
        "identity.v1.activation.complete", {"token": link_token, "password": "another fine one 9"}
    )
    assert (err.code, err.details.get("reason")) == ("conflict", "used"), err

    # the phone, the number and the license are free again
    async def inventory_back() -> bool:
        inv = await e2e.call("account.v1.inventory.get", {"account_id": account_id}, op)
        return free(inv) == before

    await eventually(inventory_back, timeout=30)

    # and the email can be added anew
    again = await e2e.call(
        "identity.v1.users.add",
        {
            "account_id": account_id,
            "users": [
                {
                    "first_name": "Lee",
                    "last_name": "Ver",
                    "email": mail,
                    "user_type": "standard",
                    "setup": {"option": "activate_later"},
                }
            ],
        },
        op,
    )
    assert again["users"][0]["id"] != user_id
