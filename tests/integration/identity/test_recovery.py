"""A user's own credentials and account status at sign-in (DOMAIN.md section 6):
self-service recovery by an emailed single-use link (with the security question), the
PIN change, Suspended and Closed accounts, the one scheduling horizon. All four
services, real NATS, PostgreSQL and SMTP."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

from argon2 import PasswordHasher
from babel.dates import format_date

from tests.integration.identity.conftest import creds, entry, ready_account
from tests.support.system import System, email, eventually

PASSWORD = "violet-harbour-47"
NEW_PASSWORD = "amber-lantern-93"


def recovery_token(msg: EmailMessage) -> str:
    body = msg.get_body(("plain",))
    text = body.get_content() if body is not None else str(msg)
    m = re.search(r"/recover/([A-Za-z0-9_\-]+)", text)
    assert m, text
    return m.group(1)


async def enabled_user(
    system: System, acc: dict[str, Any], *, question: bool = True, **over: Any
) -> tuple[dict[str, Any], str]:
    address = email("recover")
    setup = creds(PASSWORD, temporary_password=False)
    if not question:
        # without a security question: a password hash imported from another system
        setup = {
            "option": "assign_credentials",
            "password_hash": PasswordHasher().hash(PASSWORD),
            "temporary_password": False,
        }
    user = (
        await system.call(
            "identity.v1.users.add",
            {"account_id": acc["id"], "users": [entry(address, setup=setup, **over)]},
            token=system.token_for(acc["id"]),
        )
    )["users"][0]
    return user, address


async def login(system: System, address: str, password: str = PASSWORD) -> dict[str, Any]:
    return await system.call("identity.v1.auth.login", {"email": address, "password": password})


async def recovery_mail(system: System, address: str, count: int = 1) -> EmailMessage:
    msgs = await eventually(
        lambda: len(system.mail.messages_to(address)) >= count and system.mail.messages_to(address),
        timeout=20,
    )
    return msgs[count - 1]


async def test_recovery_for_an_unknown_email_answers_ok_and_sends_nothing(system: System) -> None:
    acc = await ready_account(system)
    _, known = await enabled_user(system, acc)
    nobody = email("nobody")
    assert await system.call("identity.v1.recovery.start", {"email": nobody}) == {"ok": True}
    assert await system.call("identity.v1.recovery.start", {"email": known}) == {"ok": True}
    await recovery_mail(system, known)  # mails go out in order: the unknown one's would be first
    assert system.mail.messages_to(nobody) == []


async def test_recovery_asks_the_security_question_and_a_wrong_answer_keeps_the_link(
    system: System,
) -> None:
    acc = await ready_account(system)
    user, address = await enabled_user(system, acc)
    old = await login(system, address)
    await system.call("identity.v1.recovery.start", {"email": address.upper()})
    token = recovery_token(await recovery_mail(system, address))
    base = {"token": token, "password": NEW_PASSWORD}
    missing = await system.expect_error("validation_failed", "identity.v1.recovery.complete", base)
    assert missing.details["errors"][0]["field"] == "security_answer"
    assert missing.details["security_question"] == "First pet?"
    wrong = await system.expect_error(
        "unauthenticated", "identity.v1.recovery.complete", base | {"security_answer": "Felix"}
    )
    assert wrong.details == {"field": "security_answer", "attempts_left": 4}
    weak = await system.expect_error(
        "validation_failed",
        "identity.v1.recovery.complete",
        {"token": token, "password": "password", "security_answer": "rex THE dog"},
    )
    assert weak.details["errors"][0]["field"] == "password"
    # refused attempts consumed nothing: the right answer still works, once
    done = await system.call(
        "identity.v1.recovery.complete", base | {"security_answer": "  rex THE   dog "}
    )
    assert done["id"] == user["id"] and done["must_change_password"] is False
    replay = await system.expect_error(
        "conflict", "identity.v1.recovery.complete", base | {"security_answer": "Rex the dog"}
    )
    assert replay.details == {"reason": "used"} and "already been used" in replay.message
    await system.expect_error(
        "unauthenticated", "identity.v1.auth.login", {"email": address, "password": PASSWORD}
    )
    assert (await login(system, address, NEW_PASSWORD))["user_id"] == user["id"]

    async def old_session_ended() -> bool:
        r = await system.raw(
            "identity.v1.users.get",
            {"account_id": acc["id"], "user_id": user["id"]},
            token=old["token"],
        )
        return r.error_code == "unauthenticated"

    await eventually(old_session_ended)


async def test_five_wrong_answers_kill_the_recovery_link(system: System) -> None:
    acc = await ready_account(system)
    _, address = await enabled_user(system, acc)
    await system.call("identity.v1.recovery.start", {"email": address})
    token = recovery_token(await recovery_mail(system, address))
    attempt = {"token": token, "password": NEW_PASSWORD, "security_answer": "wrong"}
    for left in (4, 3, 2, 1, 0):
        err = await system.expect_error("unauthenticated", "identity.v1.recovery.complete", attempt)
        assert err.details["attempts_left"] == left
    dead = await system.expect_error(
        "conflict",
        "identity.v1.recovery.complete",
        attempt | {"security_answer": "Rex the dog"},
    )
    assert dead.details == {"reason": "too_many_attempts"}
    assert (await login(system, address))["user_id"]


async def test_a_new_recovery_link_replaces_the_earlier_one(system: System) -> None:
    acc = await ready_account(system)
    user, address = await enabled_user(system, acc, question=False)
    await system.call("identity.v1.recovery.start", {"email": address, "account_id": acc["id"]})
    first = recovery_token(await recovery_mail(system, address))
    await system.call("identity.v1.recovery.start", {"email": address})
    await recovery_mail(system, address, 2)
    [second] = {recovery_token(m) for m in system.mail.messages_to(address)} - {first}
    err = await system.expect_error(
        "conflict", "identity.v1.recovery.complete", {"token": first, "password": NEW_PASSWORD}
    )
    assert err.details == {"reason": "revoked"}
    done = await system.call(
        "identity.v1.recovery.complete", {"token": second, "password": NEW_PASSWORD}
    )
    assert done["id"] == user["id"]
    invalid = await system.expect_error(
        "not_found", "identity.v1.recovery.complete", {"token": "x" * 43, "password": NEW_PASSWORD}
    )
    assert invalid.details == {"reason": "invalid"}


async def test_the_recovery_email_is_in_french_with_the_expiry_in_paris_time(
    system: System,
) -> None:
    acc = await ready_account(system)
    _, address = await enabled_user(
        system, acc, regional={"language": "fr-FR", "time_zone": "Europe/Paris"}
    )
    asked = datetime.now(ZoneInfo("Europe/Paris"))
    await system.call("identity.v1.recovery.start", {"email": address})
    msg = await recovery_mail(system, address)
    assert "réinitialisez votre mot de passe" in str(msg["Subject"])
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Bonjour Ada Lovelace" in text and "expire le" in text
    expires = asked + timedelta(hours=1)  # the link lives an hour
    assert format_date(expires, "long", locale="fr_FR") in text and "(Europe/Paris)" in text


async def test_users_of_suspended_and_closed_accounts_cannot_sign_in_or_recover(
    system: System,
) -> None:
    acc = await ready_account(system)
    _, address = await enabled_user(system, acc)
    op = await system.operator_token()
    for status in ("Suspended", "Closed"):
        await system.call(
            "account.v1.accounts.set_status",
            {"account_id": acc["id"], "status": status, "reason": "billing"},
            token=op,
        )

        async def refused(status: str = status) -> Any:
            r = await system.raw("identity.v1.auth.login", {"email": address, "password": PASSWORD})
            return r.body if r.error_code == "forbidden" else None

        # polled once a second: each sign-in counts against the email's throttle
        body = await eventually(refused, interval=1.0)
        assert body["error"]["details"] == {
            "reason": f"account_{status.lower()}",
            "account_status": status,
        }
        assert status in body["error"]["message"]

    # a wrong password still says only that the credentials are wrong (once the
    # email's sign-in throttle, which the polling above used, lets it through)
    async def wrong_password() -> str | None:
        r = await system.raw(
            "identity.v1.auth.login", {"email": address, "password": "nope-nope-1"}
        )
        return None if r.error_code == "limit_exceeded" else r.error_code

    assert await eventually(wrong_password, timeout=30, interval=1.0) == "unauthenticated"
    assert await system.call("identity.v1.recovery.start", {"email": address}) == {"ok": True}


async def test_a_user_changes_its_own_pin_giving_the_current_one(system: System) -> None:
    acc = await ready_account(system)
    _, address = await enabled_user(system, acc)
    token = (await login(system, address))["token"]
    missing = await system.expect_error(
        "validation_failed", "identity.v1.users.change_pin", {"new_pin": "739154"}, token=token
    )
    assert missing.details["errors"][0]["field"] == "current_pin"
    wrong = await system.expect_error(
        "unauthenticated",
        "identity.v1.users.change_pin",
        {"current_pin": "111111", "new_pin": "739154"},
        token=token,
    )
    assert wrong.details == {"field": "current_pin"}
    for trivial in ("123456", "777777", "121212", "12345"):
        err = await system.expect_error(
            "validation_failed",
            "identity.v1.users.change_pin",
            {"current_pin": "480213", "new_pin": trivial},
            token=token,
        )
        assert err.details["errors"][0]["field"] == "new_pin"
    ok = await system.call(
        "identity.v1.users.change_pin", {"current_pin": "480213", "new_pin": "739154"}, token=token
    )
    assert ok == {"ok": True}
    again = await system.expect_error(
        "unauthenticated",
        "identity.v1.users.change_pin",
        {"current_pin": "480213", "new_pin": "602718"},
        token=token,
    )
    assert again.details == {"field": "current_pin"}
    await system.expect_error(
        "unauthenticated", "identity.v1.users.change_pin", {"new_pin": "739154"}
    )


async def test_users_add_schedules_at_most_90_days_ahead(system: System) -> None:
    acc = await ready_account(system)
    token = system.token_for(acc["id"])

    def scheduled(days: int) -> dict[str, Any]:
        local = (datetime.now(ZoneInfo("UTC")) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")
        setup = {"option": "schedule_invite", "send_at": local, "time_zone": "UTC"}
        return {"account_id": acc["id"], "users": [entry(email("later"), setup=setup)]}

    err = await system.expect_error(
        "validation_failed", "identity.v1.users.add", scheduled(91), token=token
    )
    assert err.details["errors"][0]["field"].endswith("setup.send_at")
    assert "90 days" in err.details["errors"][0]["message"]
    added = await system.call("identity.v1.users.add", scheduled(89), token=token)
    assert added["users"][0]["status"] == "NotActivated"
