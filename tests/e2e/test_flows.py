"""The flows of DOMAIN.md end to end, across the four service processes."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tests.e2e.conftest import E2E
from tests.support.system import eventually

pytestmark = __import__("pytest").mark.slow


def addr(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}@example.com"


async def new_account(e2e: E2E, **kw: object) -> dict[str, object]:
    op = await e2e.operator()
    payload = {"name": f"E2E {uuid.uuid4().hex[:6]}", "country": "US", "plan": "ultra"} | kw
    return await e2e.call("account.v1.accounts.create", payload, op)


async def test_invited_user_activates_from_the_email_and_signs_in(e2e: E2E) -> None:
    op = await e2e.operator()
    acc = await new_account(e2e)
    mail = addr("ada")
    added = await e2e.call(
        "identity.v1.users.add",
        {
            "account_id": acc["id"],
            "users": [
                {
                    "first_name": "Ada",
                    "last_name": "Lovelace",
                    "email": mail,
                    "user_type": "mobile",
                    "setup": {"option": "send_invite"},
                }
            ],
        },
        op,
    )
    user = added["users"][0] if isinstance(added, dict) and "users" in added else added["items"][0]
    assert user["status"] == "NotActivated"

    msgs = await eventually(lambda: e2e.mails_to(mail), timeout=30)
    assert len(msgs) == 1
    assert str(acc["name"]) in (msgs[0].get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
    token = E2E.activation_token(msgs[0])

    activated = await e2e.call(
        "identity.v1.activation.complete",
        {"token": token, "password": "correct horse battery staple"},
    )
    assert activated["status"] == "Enabled"
    session = await e2e.call(
        "identity.v1.auth.login", {"email": mail, "password": "correct horse battery staple"}
    )
    assert session["account_id"] == acc["id"]
    assert session["must_change_password"] is False
    # the link is single use
    err = await e2e.error(
        "identity.v1.activation.complete", {"token": token, "password": "another fine password 9"}
    )
    assert (err.code, err.details.get("reason")) == ("conflict", "used"), err
    # and exactly one email went out
    await asyncio.sleep(1)
    assert len(e2e.mails_to(mail)) == 1


async def test_scheduled_invite_goes_out_at_the_admins_local_time(e2e: E2E) -> None:
    op = await e2e.operator()
    acc = await new_account(e2e, country="GB")
    mail = addr("grace")
    zone = "Europe/London"
    local = datetime.now(ZoneInfo(zone)).replace(microsecond=0) + timedelta(seconds=4)
    await e2e.call(
        "identity.v1.users.add",
        {
            "account_id": acc["id"],
            "users": [
                {
                    "first_name": "Grace",
                    "last_name": "Hopper",
                    "email": mail,
                    "user_type": "mobile",
                    "setup": {
                        "option": "schedule_invite",
                        "send_at": local.strftime("%Y-%m-%dT%H:%M:%S"),
                        "time_zone": zone,
                    },
                }
            ],
        },
        op,
    )
    assert e2e.mails_to(mail) == []
    msgs = await eventually(lambda: e2e.mails_to(mail), timeout=30)
    assert len(msgs) == 1


async def test_user_with_assigned_credentials_must_change_the_temporary_password(e2e: E2E) -> None:
    op = await e2e.operator()
    acc = await new_account(e2e)
    mail = addr("alan")
    await e2e.call(
        "identity.v1.users.add",
        {
            "account_id": acc["id"],
            "users": [
                {
                    "first_name": "Alan",
                    "last_name": "Turing",
                    "email": mail,
                    "user_type": "mobile",
                    "setup": {
                        "option": "assign_credentials",
                        "password": "enigma machine 1912",
                        "pin": "480213",
                        "security_question": "First computer?",
                        "security_answer": "Colossus",
                    },
                }
            ],
        },
        op,
    )
    s1 = await e2e.call(
        "identity.v1.auth.login", {"email": mail, "password": "enigma machine 1912"}
    )
    assert s1["must_change_password"] is True
    assert s1["needs_emergency_location"] is True
    # until the temporary password is changed, the session can do nothing else
    err = await e2e.error("identity.v1.users.list", {"account_id": acc["id"]}, s1["token"])
    assert err.code == "forbidden"
    await e2e.call(
        "identity.v1.auth.change_password",
        {"current_password": "enigma machine 1912", "new_password": "bletchley park 1939"},
        s1["token"],
    )
    s2 = await e2e.call(
        "identity.v1.auth.login", {"email": mail, "password": "bletchley park 1939"}
    )
    assert s2["must_change_password"] is False
    await asyncio.sleep(0.5)
    assert e2e.mails_to(mail) == []  # no email for assigned credentials
