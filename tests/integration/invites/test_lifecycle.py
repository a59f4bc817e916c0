"""Invitations through the life of an account and a user (DOMAIN.md sections 3, 4 and
6): account status, the unique-email rule, the one scheduling horizon, an email change,
emails in the user's language; real NATS, PostgreSQL and SMTP."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date
from invite_scheduler.main import dispatcher_of
from shared.errors import AppError

from shared import subjects as s
from tests.integration.invites.support import (
    PERMS,
    World,
    fetch,
    local_in,
    mails_to,
    new_world,
    publish,
    redeem,
    shared_scheduler_paused,
    snapshot,
    text_of,
    token_in,
    wait_mails,
)
from tests.support.system import System, email, eventually, uid


async def set_status(w: World, status: str) -> None:
    """The account's status changes, and the invite scheduler has heard of it."""
    payload: dict[str, Any] = {"account_id": w.account_id, "status": status}
    if status != "Active":
        payload["reason"] = "billing"
    await w.system.call(
        "account.v1.accounts.set_status", payload, token=await w.system.operator_token()
    )

    async def projected() -> bool:
        rows = await fetch(
            w.system, "SELECT status FROM accounts WHERE account_id = $1", w.account_id
        )
        return bool(rows) and rows[0]["status"] == status

    await eventually(projected)
    # sessions issued before a status change end (docs/security.md): a new one
    w.token = w.system.token_for(w.account_id, PERMS)


async def status_of(w: World, invite_id: str) -> str:
    got = await w.system.call(
        s.INVITES_GET,
        {"account_id": w.account_id, "invite_id": invite_id},
        token=await w.system.operator_token(),
    )
    return str(got["status"])


async def test_invites_are_refused_where_emails_are_not_unique(system: System) -> None:
    account = await system.create_account(
        name=f"Shared Inbox {uid()}", settings={"require_unique_email": False}
    )

    async def projected() -> bool:
        rows = await fetch(
            system,
            "SELECT require_unique_email FROM accounts WHERE account_id = $1",
            account["id"],
        )
        return bool(rows) and rows[0]["require_unique_email"] is False

    await eventually(projected)
    w = World(system, account)
    user_id, address = await w.add_user()
    for subject, extra in (
        (s.INVITES_SEND, {}),
        (s.INVITES_SCHEDULE, {"send_at": local_in("UTC", timedelta(days=1)), "time_zone": "UTC"}),
    ):
        err = await w.error("conflict", subject, {"user_id": user_id} | extra)
        assert err.details["setting"] == "require_unique_email"
        assert "require_unique_email" in err.message
    assert (await w.call(s.INVITES_LIST, {}))["items"] == []
    assert mails_to(system, address) == []


async def test_the_horizon_is_90_days_and_91_is_refused(system: System) -> None:
    w = await new_world(system)
    user_id, _ = await w.add_user()
    err = await w.error(
        "validation_failed",
        s.INVITES_SCHEDULE,
        {"user_id": user_id, "send_at": local_in("UTC", timedelta(days=91)), "time_zone": "UTC"},
    )
    assert err.details["errors"][0]["field"] == "send_at"
    assert "90 days" in err.details["errors"][0]["message"]
    ok = await w.call(
        s.INVITES_SCHEDULE,
        {"user_id": user_id, "send_at": local_in("UTC", timedelta(days=89)), "time_zone": "UTC"},
    )
    err = await w.error(
        "validation_failed",
        s.INVITES_RESCHEDULE,
        {"invite_id": ok["id"], "send_at": local_in("UTC", timedelta(days=91)), "time_zone": "UTC"},
    )
    assert "90 days" in err.details["errors"][0]["message"]


async def test_a_suspended_accounts_scheduled_invite_waits_and_goes_out_when_active(
    system: System,
) -> None:
    w = await new_world(system)
    user_id, address = await w.add_user()
    dispatcher = dispatcher_of(system.services["invite-scheduler"])
    async with shared_scheduler_paused(system):
        invite = await w.call(
            s.INVITES_SCHEDULE,
            {
                "user_id": user_id,
                "send_at": local_in("UTC", timedelta(seconds=1)),
                "time_zone": "UTC",
            },
        )
        await set_status(w, "Suspended")
        # nobody is invited while Suspended (the account's own sessions do not work
        # then; an operator's does): new invites are refused
        other, _ = await w.add_user()
        err = await system.expect_error(
            "conflict",
            s.INVITES_SEND,
            {"account_id": w.account_id, "user_id": other},
            token=await system.operator_token(),
        )
        assert err.details["account_status"] == "Suspended"

        async def due() -> bool:
            rows = await fetch(
                system, "SELECT due_at <= now() AS due FROM invites WHERE id = $1", invite["id"]
            )
            return bool(rows[0]["due"])

        await eventually(due)
        await dispatcher.run_once()  # a whole round of the scheduler passes it by
        assert await status_of(w, invite["id"]) == "Scheduled"
        assert mails_to(system, address) == []
    await set_status(w, "Active")
    [msg] = await wait_mails(system, address)
    assert token_in(msg)

    async def sent() -> bool:
        return await status_of(w, invite["id"]) == "Sent"

    await eventually(sent)


async def test_a_mailed_link_does_not_work_while_the_account_is_suspended(
    system: System,
) -> None:
    w = await new_world(system)
    user_id, address = await w.add_user()
    invite = await w.call(s.INVITES_SEND, {"user_id": user_id})
    token = token_in((await wait_mails(system, address))[0])

    async def sent() -> bool:
        return await status_of(w, invite["id"]) == "Sent"

    await eventually(sent)
    await set_status(w, "Suspended")
    for dry_run in (True, False):
        try:
            await redeem(system, token, dry_run=dry_run)
            raise AssertionError("a Suspended account's link works")
        except AppError as err:
            assert err.code == "conflict" and err.details == {"reason": "account_suspended"}
    await set_status(w, "Active")
    assert (await redeem(system, token))["invite_id"] == invite["id"]  # not consumed before


async def test_closing_the_account_cancels_its_invites_and_their_links_die(
    system: System,
) -> None:
    w = await new_world(system)
    later_user, _ = await w.add_user()
    now_user, now_address = await w.add_user()
    scheduled = await w.call(
        s.INVITES_SCHEDULE,
        {"user_id": later_user, "send_at": local_in("UTC", timedelta(days=2)), "time_zone": "UTC"},
    )
    sent = await w.call(s.INVITES_SEND, {"user_id": now_user})
    token = token_in((await wait_mails(system, now_address))[0])
    await set_status(w, "Closed")

    async def cancelled() -> bool:
        return {await status_of(w, scheduled["id"]), await status_of(w, sent["id"])} == {
            "Cancelled"
        }

    await eventually(cancelled)
    got = await system.call(
        s.INVITES_GET,
        {"account_id": w.account_id, "invite_id": scheduled["id"]},
        token=await system.operator_token(),
    )
    assert got["reason"] == "account_closed"
    try:
        await redeem(system, token)
        raise AssertionError("a closed account's link still works")
    except AppError as err:
        assert err.code == "conflict" and err.details == {"reason": "revoked"}


async def test_an_email_change_resends_the_pending_invite_and_the_old_link_dies(
    system: System,
) -> None:
    w = await new_world(system)
    user_id, old_address = await w.add_user()
    invite = await w.call(s.INVITES_SEND, {"user_id": user_id})
    old_token = token_in((await wait_mails(system, old_address))[0])

    async def sent() -> bool:
        return await status_of(w, invite["id"]) == "Sent"

    await eventually(sent)
    new_address = email("moved")
    await publish(system, s.USER_UPDATED, snapshot(w.account_id, user_id, new_address, version=2))
    [msg] = await wait_mails(system, new_address)
    new_token = token_in(msg)
    assert new_token != old_token
    try:
        await redeem(system, old_token, dry_run=True)
        raise AssertionError("the link mailed to the old address still works")
    except AppError as err:
        assert err.code == "conflict" and err.details == {"reason": "revoked"}

    async def live() -> dict[str, Any] | None:
        try:
            return await redeem(system, new_token, dry_run=True)
        except AppError:
            return None

    assert (await eventually(live))["email"] == new_address
    got = await w.call(s.INVITES_GET, {"invite_id": invite["id"]})
    assert got["email"] == new_address and len(mails_to(system, old_address)) == 1


async def test_a_french_users_welcome_is_in_french_with_the_expiry_in_paris_time(
    system: System,
) -> None:
    w = await new_world(system)
    user_id, address = await w.add_user(regional={"language": "fr-FR", "time_zone": "Europe/Paris"})
    invite = await w.call(s.INVITES_SEND, {"user_id": user_id})
    [msg] = await wait_mails(system, address)
    assert str(msg["Subject"]).strip().startswith("Bienvenue chez")
    body = text_of(msg)
    assert "Bonjour Ada Lovelace" in body and "expire le" in body

    async def expiry() -> datetime | None:
        got = await w.call(s.INVITES_GET, {"invite_id": invite["id"]})
        return datetime.fromisoformat(got["expires_at"]) if got["expires_at"] else None

    expires = (await eventually(expiry)).astimezone(ZoneInfo("Europe/Paris"))
    assert format_date(expires, "long", locale="fr_FR") in body  # e.g. "1 décembre 2026"
    assert f"{expires:%H}:" in body and "(Europe/Paris)" in body


async def test_a_recovery_request_is_mailed_once_even_when_its_event_comes_twice(
    system: System,
) -> None:
    w = await new_world(system)
    user_id, address = await w.add_user()
    data = {
        "recovery_id": uid("rec_"),
        "user_id": user_id,
        "account_id": w.account_id,
        "email": address,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "language": "es",
        "time_zone": "America/Mexico_City",
    }
    await publish(system, s.RECOVERY_REQUESTED, data)
    await publish(system, s.RECOVERY_REQUESTED, data)  # another event id, same recovery
    [msg] = await wait_mails(system, address)
    assert "restablezca su contraseña" in str(msg["Subject"])
    assert "(America/Mexico_City)" in text_of(msg)
    # a later event of the same user proves the second copy was handled (in order)
    later = data | {"recovery_id": uid("rec_")}
    await publish(system, s.RECOVERY_REQUESTED, later)
    await wait_mails(system, address, 2)
    rows = await fetch(
        system, "SELECT id, status FROM recoveries WHERE user_id = $1 ORDER BY id", user_id
    )
    assert {r["id"]: r["status"] for r in rows}[data["recovery_id"]] == "Revoked"
    assert len(rows) == 2 and len(mails_to(system, address)) == 2


async def test_an_email_change_kills_the_users_recovery_link(system: System) -> None:
    w = await new_world(system)
    user_id, address = await w.add_user(status="Enabled")
    recovery_id = uid("rec_")
    await publish(
        system,
        s.RECOVERY_REQUESTED,
        {
            "recovery_id": recovery_id,
            "user_id": user_id,
            "account_id": w.account_id,
            "email": address,
            "first_name": "Ada",
            "last_name": "Lovelace",
        },
    )
    await wait_mails(system, address)
    await publish(
        system,
        s.USER_UPDATED,
        snapshot(w.account_id, user_id, email("moved"), status="Enabled", version=2),
    )

    async def revoked() -> bool:
        rows = await fetch(system, "SELECT status FROM recoveries WHERE id = $1", recovery_id)
        return rows[0]["status"] == "Revoked"

    await eventually(revoked)
