"""identity: adding users, setup options, validation, email uniqueness, extensions, roles."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from shared.auth import Perm

from tests.integration.identity.conftest import creds, entry, identity_events, ready_account
from tests.support.system import System, email, eventually, uid

ADD = "identity.v1.users.add"


async def test_activate_later_creates_a_not_activated_user_with_next_free_extension(
    system: System,
) -> None:
    acc = await ready_account(system, extension_length=4)
    token = system.token_for(acc["id"])
    reply = await system.call(
        ADD, {"account_id": acc["id"], "users": [entry(email()), entry(email())]}, token=token
    )
    a, b = reply["users"]
    assert a["status"] == b["status"] == "NotActivated"
    assert (a["extension_number"], b["extension_number"]) == ("1001", "1002")
    assert a["role"] == "Standard User (International)"
    assert a["needs_emergency_location"] is True and a["must_change_password"] is False
    assert a["regional"]["time_zone"] == acc["settings"]["default_time_zone"]
    got = await system.call(
        "identity.v1.users.get", {"account_id": acc["id"], "user_id": a["id"]}, token=token
    )
    assert got == a
    exts = await system.call("identity.v1.extensions.list", {"account_id": acc["id"]}, token=token)
    assert {e["status"] for e in exts["items"]} == {"NotActivated"}


async def test_send_and_schedule_invite_emit_invite_requests(system: System) -> None:
    acc = await ready_account(system)
    token = system.token_for(acc["id"])
    local = (datetime.now(ZoneInfo("America/New_York")) + timedelta(days=3)).replace(
        hour=9, minute=0, second=0, microsecond=0
    )
    send_at = local.strftime("%Y-%m-%dT%H:%M")
    reply = await system.call(
        ADD,
        {
            "account_id": acc["id"],
            "users": [
                entry(email(), setup={"option": "send_invite"}),
                entry(
                    email(),
                    setup={
                        "option": "schedule_invite",
                        "send_at": send_at,
                        "time_zone": "America/New_York",
                    },
                ),
            ],
        },
        token=token,
    )
    now_user, later_user = reply["users"]
    assert now_user["status"] == later_user["status"] == "NotActivated"

    async def requested() -> list[dict]:
        evs = await identity_events(system, acc["id"], "events.identity.user.invite_requested")
        return evs if len(evs) == 2 else []

    evs = {e["data"]["user_id"]: e["data"] for e in await eventually(requested)}
    assert evs[now_user["id"]]["option"] == "send_invite"
    sched = evs[later_user["id"]]
    assert sched["option"] == "schedule_invite"
    assert sched["local_send_at"] == send_at and sched["time_zone"] == "America/New_York"
    assert datetime.fromisoformat(sched["send_at"]) == local.astimezone(ZoneInfo("UTC"))


async def test_schedule_invite_refuses_past_dst_gap_and_beyond_horizon(system: System) -> None:
    acc = await ready_account(system)
    token = system.token_for(acc["id"])
    year = datetime.now().year + 1

    def sched(at: str) -> dict:
        return {"option": "schedule_invite", "send_at": at, "time_zone": "America/New_York"}

    err = await system.expect_error(
        "validation_failed",
        ADD,
        {
            "account_id": acc["id"],
            "users": [
                entry(email(), setup=sched("2020-01-01T09:00")),
                entry(email(), setup=sched(f"{year}-03-{_second_sunday(year, 3):02d}T02:30")),
                entry(email(), setup=sched(f"{year + 1}-01-01T09:00")),
            ],
        },
        token=token,
    )
    errors = err.details["errors"]
    assert [(e["index"], e["field"]) for e in errors] == [
        (0, "users[0].setup.send_at"),
        (1, "users[1].setup.send_at"),
        (2, "users[2].setup.send_at"),
    ]
    assert "past" in errors[0]["message"]
    assert "daylight saving" in errors[1]["message"]
    assert "days ahead" in errors[2]["message"]


def _second_sunday(year: int, month: int) -> int:
    first = datetime(year, month, 1).weekday()
    return 1 + (6 - first) % 7 + 7


async def test_assign_credentials_enables_at_once_with_a_temporary_password(
    system: System,
) -> None:
    acc = await ready_account(system)
    token = system.token_for(acc["id"])
    mail = email()
    reply = await system.call(
        ADD, {"account_id": acc["id"], "users": [entry(mail, setup=creds())]}, token=token
    )
    user = reply["users"][0]
    assert user["status"] == "Enabled" and user["must_change_password"] is True
    session = await system.call(
        "identity.v1.auth.login", {"email": mail.upper(), "password": "violet-harbour-47"}
    )
    assert session["must_change_password"] is True
    assert session["needs_emergency_location"] is True
    assert session["account_id"] == acc["id"] and session["user_id"] == user["id"]

    await system.expect_error(
        "validation_failed",
        "identity.v1.auth.change_password",
        {"current_password": "violet-harbour-47", "new_password": "password123"},
        token=session["token"],
    )
    await system.call(
        "identity.v1.auth.change_password",
        {"current_password": "violet-harbour-47", "new_password": "amber-lantern-93"},
        token=session["token"],
    )
    again = await system.call(
        "identity.v1.auth.login", {"email": mail, "password": "amber-lantern-93"}
    )
    assert again["must_change_password"] is False
    await system.expect_error(
        "unauthenticated",
        "identity.v1.auth.login",
        {"email": mail, "password": "violet-harbour-47"},
    )


async def test_activate_later_then_credentials_follow(system: System) -> None:
    acc = await ready_account(system)
    token = system.token_for(acc["id"])
    mail = email()
    user = (await system.call(ADD, {"account_id": acc["id"], "users": [entry(mail)]}, token=token))[
        "users"
    ][0]
    await system.expect_error(
        "unauthenticated",
        "identity.v1.auth.login",
        {"email": mail, "password": "violet-harbour-47"},
    )
    c = creds()
    c.pop("option")
    done = await system.call(
        "identity.v1.users.assign_credentials",
        {"account_id": acc["id"], "user_id": user["id"], **c, "temporary_password": False},
        token=token,
    )
    assert done["status"] == "Enabled" and done["must_change_password"] is False
    session = await system.call(
        "identity.v1.auth.login", {"email": mail, "password": "violet-harbour-47"}
    )
    assert session["must_change_password"] is False
    await system.expect_error(
        "conflict",
        "identity.v1.users.assign_credentials",
        {"account_id": acc["id"], "user_id": user["id"], **c},
        token=token,
    )


async def test_every_problem_of_every_entry_is_listed_with_index_and_field(
    system: System,
) -> None:
    acc = await ready_account(system, plan="core", extension_length=4)
    token = system.token_for(acc["id"])
    dup = email()
    users = [
        entry(dup),  # 0: fine on its own
        entry(dup.upper()),  # 1: duplicate email in the request
        entry("not-an-email"),  # 2
        entry(email(), first_name="", last_name="x" * 65),  # 3
        entry(email(), user_type="video_pro_plus"),  # 4: not on core
        entry(email(), contact_phone="12345"),  # 5
        entry(email(), site_id="site_x"),  # 6: not multi-site
        entry(email(), cost_center_id="cc_nope"),  # 7
        entry(email(), role="Chief Wizard"),  # 8
        entry(email(), regional={"language": "xx-QQ", "time_zone": "Mars/Base"}),  # 9
        entry(email(), call_recording="sometimes"),  # 10
        entry(email(), phone={"source": "inventory", "device_id": "dev_1"}),  # 11: mobile
        entry(email(), phone_number={"source": "purchase"}),  # 12: mobile
        entry(
            email(), user_type="standard", phone={"source": "purchase", "model": "Yealink T54W"}
        ),  # 13: no shipping address
        entry(email(), setup=creds(password="short", pin="123456", security_answer="abc")),  # 14
        entry(email(), extension_number="12"),  # 15
        entry(email(), colour="blue"),  # 16
        entry(email(), setup={"option": "teleport"}),  # 17
    ]
    err = await system.expect_error(
        "validation_failed", ADD, {"account_id": acc["id"], "users": users}, token=token
    )
    got = {(e["index"], e["field"]) for e in err.details["errors"]}
    expected = {
        (1, "users[1].email"),
        (2, "users[2].email"),
        (3, "users[3].first_name"),
        (3, "users[3].last_name"),
        (4, "users[4].user_type"),
        (5, "users[5].contact_phone"),
        (6, "users[6].site_id"),
        (7, "users[7].cost_center_id"),
        (8, "users[8].role"),
        (9, "users[9].regional.language"),
        (9, "users[9].regional.time_zone"),
        (10, "users[10].call_recording"),
        (11, "users[11].phone"),
        (12, "users[12].phone_number"),
        (13, "users[13].shipping_address"),
        (14, "users[14].setup.password"),
        (14, "users[14].setup.pin"),
        (14, "users[14].setup.security_answer"),
        (15, "users[15].extension_number"),
        (16, "users[16].colour"),
        (17, "users[17].setup"),
    }
    assert expected <= got, expected - got
    assert not any(e["index"] == 0 for e in err.details["errors"])
    page = await system.call("identity.v1.users.list", {"account_id": acc["id"]}, token=token)
    assert page["items"] == []


async def test_25_users_in_one_request_and_26_is_limit_exceeded(system: System) -> None:
    acc = await ready_account(system)
    token = system.token_for(acc["id"])
    err = await system.expect_error(
        "limit_exceeded",
        ADD,
        {"account_id": acc["id"], "users": [entry(email()) for _ in range(26)]},
        token=token,
    )
    assert err.details["max"] == 25
    reply = await system.call(
        ADD,
        {"account_id": acc["id"], "users": [entry(email(), user_type="free") for _ in range(25)]},
        token=token,
    )
    numbers = [u["extension_number"] for u in reply["users"]]
    assert len(set(numbers)) == 25
    page = await system.call(
        "identity.v1.users.list", {"account_id": acc["id"], "limit": 10}, token=token
    )
    assert len(page["items"]) == 10 and page["next_cursor"]
    rest = await system.call(
        "identity.v1.users.list",
        {"account_id": acc["id"], "limit": 500, "cursor": page["next_cursor"]},
        token=token,
    )
    assert len(rest["items"]) == 15 and rest["next_cursor"] is None


async def test_fifty_concurrent_adds_of_one_email_exactly_one_wins(system: System) -> None:
    accounts = await asyncio.gather(*(ready_account(system) for _ in range(5)))
    mail = email()

    async def attempt(i: int) -> str:
        acc = accounts[i % len(accounts)]
        try:
            await system.call(
                ADD,
                {"account_id": acc["id"], "users": [entry(mail.upper() if i % 2 else mail)]},
                token=system.token_for(acc["id"]),
            )
            return "ok"
        except Exception as exc:
            return getattr(exc, "code", repr(exc))

    results = await asyncio.gather(*(attempt(i) for i in range(50)))
    assert results.count("ok") == 1, results
    assert set(results) <= {"ok", "validation_failed", "conflict"}
    check = await system.call(
        "identity.v1.emails.check",
        {"email": mail.upper()},
        token=system.token_for(accounts[0]["id"]),
    )
    assert check["available"] is False
    free = await system.call(
        "identity.v1.emails.check", {"email": email()}, token=system.token_for(accounts[0]["id"])
    )
    assert free["available"] is True


async def test_without_unique_emails_invites_are_refused_and_login_needs_the_account(
    system: System,
) -> None:
    a = await ready_account(system, settings={"require_unique_email": False})
    b = await ready_account(system, settings={"require_unique_email": False})
    mail = email()
    err = await system.expect_error(
        "validation_failed",
        ADD,
        {"account_id": a["id"], "users": [entry(mail, setup={"option": "send_invite"})]},
        token=system.token_for(a["id"]),
    )
    assert err.details["errors"][0]["field"] == "users[0].setup.option"
    assert "require_unique_email" in err.details["errors"][0]["message"]
    for acc in (a, b):
        await system.call(
            ADD,
            {"account_id": acc["id"], "users": [entry(mail, setup=creds())]},
            token=system.token_for(acc["id"]),
        )
    amb = await system.expect_error(
        "conflict", "identity.v1.auth.login", {"email": mail, "password": "violet-harbour-47"}
    )
    assert amb.details["field"] == "account_id"
    s = await system.call(
        "identity.v1.auth.login",
        {"email": mail, "password": "violet-harbour-47", "account_id": b["id"]},
    )
    assert s["account_id"] == b["id"]
    # a unique-email account cannot take an email used elsewhere
    c = await ready_account(system)
    taken = await system.expect_error(
        "validation_failed",
        ADD,
        {"account_id": c["id"], "users": [entry(mail)]},
        token=system.token_for(c["id"]),
    )
    assert taken.details["errors"][0]["field"] == "users[0].email"


async def test_login_failures_lock_the_email_in_the_database(system: System) -> None:
    acc = await ready_account(system)
    mail = email()
    await system.call(
        ADD,
        {"account_id": acc["id"], "users": [entry(mail, setup=creds())]},
        token=system.token_for(acc["id"]),
    )
    for _ in range(5):
        r = await system.raw("identity.v1.auth.login", {"email": mail, "password": "wrong-one-1"})
        assert r.error_code == "unauthenticated"
        assert r.body["error"]["message"] == "The email or password is not correct."
    locked = await system.raw(
        "identity.v1.auth.login", {"email": mail, "password": "violet-harbour-47"}
    )
    assert locked.error_code == "limit_exceeded"
    # an unknown email locks the same way, so lockout reveals nothing
    ghost = email()
    for _ in range(5):
        await system.raw("identity.v1.auth.login", {"email": ghost, "password": "wrong-one-1"})
    r = await system.raw("identity.v1.auth.login", {"email": ghost, "password": "wrong-one-1"})
    assert r.error_code == "limit_exceeded"
    # a second identity replica sees the same lock
    replica = await system.start("identity")
    try:
        again = await system.raw(
            "identity.v1.auth.login", {"email": mail, "password": "violet-harbour-47"}
        )
        assert again.error_code == "limit_exceeded"
    finally:
        await replica.app.stop()


async def test_extensions_created_listed_and_assigned(system: System) -> None:
    acc = await ready_account(system, extension_length=3)
    token = system.token_for(acc["id"])
    e1 = await system.call("identity.v1.extensions.create", {"account_id": acc["id"]}, token=token)
    e2 = await system.call(
        "identity.v1.extensions.create", {"account_id": acc["id"], "number": "555"}, token=token
    )
    assert e1["number"] == "101" and e1["status"] == "Unassigned" and e2["number"] == "555"
    await system.expect_error(
        "conflict",
        "identity.v1.extensions.create",
        {"account_id": acc["id"], "number": "555"},
        token=token,
    )
    await system.expect_error(
        "validation_failed",
        "identity.v1.extensions.create",
        {"account_id": acc["id"], "number": "5555"},
        token=token,
    )
    free = await system.call(
        "identity.v1.extensions.list",
        {"account_id": acc["id"], "status": "Unassigned"},
        token=token,
    )
    assert {e["id"] for e in free["items"]} == {e1["id"], e2["id"]}
    user = await system.call(
        "identity.v1.extensions.assign",
        {"account_id": acc["id"], "extension_id": e2["id"], "user": entry(email(), setup=creds())},
        token=token,
    )
    assert user["extension_id"] == e2["id"] and user["extension_number"] == "555"
    assert user["status"] == "Enabled"
    await system.expect_error(
        "conflict",
        "identity.v1.extensions.assign",
        {"account_id": acc["id"], "extension_id": e2["id"], "user": entry(email())},
        token=token,
    )
    # the next auto number skips the taken ones
    added = await system.call(
        ADD, {"account_id": acc["id"], "users": [entry(email())]}, token=token
    )
    assert added["users"][0]["extension_number"] == "102"
    given = await system.expect_error(
        "validation_failed",
        ADD,
        {"account_id": acc["id"], "users": [entry(email(), extension_number="555")]},
        token=token,
    )
    assert given.details["errors"][0]["field"] == "users[0].extension_number"


async def test_roles_predefined_custom_and_permission_checks(system: System) -> None:
    acc = await ready_account(system)
    admin = system.token_for(acc["id"])
    roles = await system.call("identity.v1.roles.list", {"account_id": acc["id"]}, token=admin)
    names = {r["name"] for r in roles["items"]}
    assert {
        "Super Admin",
        "Standard User (International)",
        "Standard User",
        "Phone System Admin",
        "Users Admin",
    } <= names
    role = await system.call(
        "identity.v1.roles.create",
        {"account_id": acc["id"], "name": "Front Desk", "permissions": ["users.read", "self"]},
        token=admin,
    )
    await system.expect_error(
        "conflict",
        "identity.v1.roles.create",
        {"account_id": acc["id"], "name": "front desk", "permissions": []},
        token=admin,
    )
    await system.expect_error(
        "validation_failed",
        "identity.v1.roles.create",
        {"account_id": acc["id"], "name": "X", "permissions": ["launch.rockets"]},
        token=admin,
    )
    mail = email()
    user = (
        await system.call(
            ADD,
            {
                "account_id": acc["id"],
                # a permanent password: a temporary one opens a change-password-only session
                "users": [entry(mail, role="Front Desk", setup=creds(temporary_password=False))],
            },
            token=admin,
        )
    )["users"][0]
    assert user["role"] == "Front Desk" and user["role_id"] == role["id"]
    session = await system.call(
        "identity.v1.auth.login", {"email": mail, "password": "violet-harbour-47"}
    )
    assert set(session["permissions"]) == {"users.read", "self"}
    # a users.read session may read but not add
    await system.call("identity.v1.users.list", {"account_id": acc["id"]}, token=session["token"])
    await system.expect_error(
        "forbidden",
        ADD,
        {"account_id": acc["id"], "users": [entry(email())]},
        token=session["token"],
    )
    # another account's admin is refused and learns nothing
    other = await ready_account(system)
    err = await system.expect_error(
        "forbidden",
        "identity.v1.users.get",
        {"account_id": acc["id"], "user_id": user["id"]},
        token=system.token_for(other["id"]),
    )
    assert mail not in str(err.details)
    # a Users Admin cannot hand out Super Admin
    limited = system.token_for(acc["id"], [Perm.USERS_MANAGE, Perm.USERS_READ, Perm.SELF])
    esc = await system.expect_error(
        "validation_failed",
        ADD,
        {"account_id": acc["id"], "users": [entry(email(), role="Super Admin")]},
        token=limited,
    )
    assert esc.details["errors"][0]["field"] == "users[0].role"


async def test_setting_the_emergency_location_clears_the_flag(system: System) -> None:
    acc = await ready_account(system)
    token = system.token_for(acc["id"])
    user = (
        await system.call(ADD, {"account_id": acc["id"], "users": [entry(email())]}, token=token)
    )["users"][0]
    assert user["needs_emergency_location"] is True
    done = await system.call(
        "identity.v1.users.set_emergency_location",
        {
            "account_id": acc["id"],
            "user_id": user["id"],
            "location": {
                "line1": "1 Main St",
                "city": "Boston",
                "postal_code": "02110",
                "country": "US",
            },
        },
        token=token,
    )
    assert done["needs_emergency_location"] is False and done["version"] == 2
    with_erl = await system.call(
        ADD,
        {
            "account_id": acc["id"],
            "users": [
                entry(
                    email(),
                    emergency_location={
                        "line1": "2 Main St",
                        "city": "Boston",
                        "postal_code": "02110",
                        "country": "US",
                    },
                )
            ],
        },
        token=token,
    )
    assert with_erl["users"][0]["needs_emergency_location"] is False


async def test_update_changes_fields_and_bumps_the_version(system: System) -> None:
    acc = await ready_account(system)
    token = system.token_for(acc["id"])
    user = (
        await system.call(ADD, {"account_id": acc["id"], "users": [entry(email())]}, token=token)
    )["users"][0]
    new = await system.call(
        "identity.v1.users.update",
        {
            "account_id": acc["id"],
            "user_id": user["id"],
            "fields": {"job_title": "Engineer", "role": "Standard User", "call_recording": "both"},
        },
        token=token,
    )
    assert (new["job_title"], new["role"], new["call_recording"], new["version"]) == (
        "Engineer",
        "Standard User",
        "both",
        2,
    )

    async def updated() -> list[dict]:
        return [
            e
            for e in await identity_events(system, acc["id"], "events.identity.user.updated")
            if e["data"]["user_id"] == user["id"]
        ]

    ev = (await eventually(updated))[0]["data"]
    assert ev["version"] == 2 and ev["job_title"] == "Engineer"


async def test_no_secret_in_replies_events_or_logs(
    system: System, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    acc = await ready_account(system)
    token = system.token_for(acc["id"])
    password, pin, answer = "quiet-meadow-" + uid(), "582017", "Blue Whale " + uid()
    mail = email()
    setup = creds(password=password, pin=pin, security_answer=answer)
    reply = await system.call(
        ADD, {"account_id": acc["id"], "users": [entry(mail, setup=setup)]}, token=token
    )
    session = await system.call("identity.v1.auth.login", {"email": mail, "password": password})
    await system.raw("identity.v1.auth.login", {"email": mail, "password": password + "x"})
    user = reply["users"][0]
    got = await system.call(
        "identity.v1.users.get", {"account_id": acc["id"], "user_id": user["id"]}, token=token
    )

    async def added() -> list[dict]:
        return await identity_events(system, acc["id"], "events.identity.user.added")

    events = await eventually(added)
    for blob in (str(reply), str(got), str(session), str(events), caplog.text):
        for secret in (password, pin, answer, answer.lower()):
            assert secret not in blob
        assert "$argon2" not in blob
    assert events[0]["data"]["setup_option"] == "assign_credentials"
    assert events[0]["data"]["version"] == 1
