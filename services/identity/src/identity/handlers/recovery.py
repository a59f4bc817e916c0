"""A user's own credentials (DOMAIN.md section 6, "Credentials"): self-service password
recovery by an emailed single-use link, with the security question when one is set,
and the PIN change by its owner.

Recovery is designed like the invitation: identity decides who may recover and
publishes ``events.identity.recovery.requested`` (no secret); the invite-scheduler, the
only mail sender and the only holder of the token key, makes the link, mails it and
answers ``invites.v1.recovery.redeem`` (check, consume, count a wrong answer)."""

from __future__ import annotations

from typing import Any, Protocol

from shared.auth import Principal
from shared.contracts import identity as c
from shared.contracts.common import Ok
from shared.errors import Conflict, Forbidden, Unauthenticated, ValidationFailed, field_error
from shared.ids import new_id
from shared.messaging.outbox import make_event
from shared.revocations import revoke_user

from identity import domain
from identity.handlers.common import SOURCE, Deps
from identity.handlers.views import _user_event, to_user
from identity.ports import UnitOfWork
from shared import subjects as s

LINK_DEAD = "The recovery link no longer works."


class RecoveryTokens(Protocol):
    """The invite-scheduler's ``invites.v1.recovery.redeem``."""

    async def redeem(self, token: str, action: str) -> dict[str, Any]: ...


async def start_recovery(cmd: c.StartRecovery, uow: UnitOfWork) -> Ok:
    """Always ``ok``, whether or not the email is known (the reply tells nobody who has
    an account). A link goes to each activated (Enabled, with a password) user of an
    Active account with this email (only in ``account_id`` when given)."""
    email = cmd.email.strip().lower()
    async with uow:
        for row in await uow.users.for_login(email):
            if row["status"] != "Enabled" or not row["password_hash"]:
                continue
            if cmd.account_id is not None and row["account_id"] != cmd.account_id:
                continue
            acc = await uow.accounts.get(row["account_id"])
            if acc is None or acc["status"] != "Active":
                continue
            regional = row["profile"].get("regional") or {}
            facts = acc.get("facts") or {}
            data = {
                "recovery_id": new_id("rec"),
                "user_id": row["id"],
                "account_id": row["account_id"],
                "email": row["email"],
                "first_name": row["first_name"],
                "last_name": row["last_name"],
                "language": regional.get("language") or facts.get("default_language"),
                "time_zone": regional.get("time_zone") or facts.get("default_time_zone"),
            }
            uow.add_event(make_event(SOURCE, s.RECOVERY_REQUESTED, data, key=row["id"]))
        await uow.commit()
    return Ok()


async def _recovering_user(uow: UnitOfWork, link: dict[str, Any], lock: bool) -> dict[str, Any]:
    account_id, user_id = str(link["account_id"]), str(link["user_id"])
    acc = await uow.accounts.get(account_id)
    row = await uow.users.get(account_id, user_id, lock=lock)
    if row is None or row["status"] != "Enabled" or acc is None or acc["status"] != "Active":
        raise Conflict(LINK_DEAD, {"reason": "revoked"})
    return row


async def _check_answer(
    cmd: c.CompleteRecovery, row: dict[str, Any], deps: Deps, tokens: RecoveryTokens
) -> None:
    """A user with a security question must answer it. A wrong answer leaves the link
    alive but counts: after ``RECOVERY_MAX_ANSWER_FAILURES`` the link dies."""
    if not row["security_answer_hash"]:
        return
    if cmd.security_answer is None:
        raise ValidationFailed(
            "Answer the security question.",
            [field_error("security_answer", "is required")],
            {"security_question": row["security_question"]},
        )
    answer = domain.normalize_answer(cmd.security_answer)
    if await deps.hasher.verify(row["security_answer_hash"], answer):
        return
    left = int((await tokens.redeem(cmd.token, "fail"))["attempts_left"])
    message = "The answer to the security question is not correct."
    if left == 0:
        message += " " + LINK_DEAD + " Ask for a new one."
    raise Unauthenticated(message, {"field": "security_answer", "attempts_left": left})


async def complete_recovery(
    cmd: c.CompleteRecovery, uow: UnitOfWork, deps: Deps, tokens: RecoveryTokens
) -> c.User:
    """Check the link, the password rules and the answer; then consume the link, set the
    password (not temporary) and end every session of the user."""
    link = await tokens.redeem(cmd.token, "check")
    async with uow:
        row = await _recovering_user(uow, link, lock=False)
    problems = domain.password_problems(
        cmd.password, first_name=row["first_name"], last_name=row["last_name"], email=row["email"]
    )
    if problems:
        raise ValidationFailed(errors=[field_error("password", m) for m in problems])
    await _check_answer(cmd, row, deps, tokens)
    hashed = await deps.hasher.hash(cmd.password)
    await tokens.redeem(cmd.token, "consume")
    async with uow:
        row = await _recovering_user(uow, link, lock=True)
        new = await uow.users.update(
            row["id"], {"password_hash": hashed, "must_change_password": False}
        )
        uow.add_event(_user_event(s.USER_UPDATED, new))
        # every session of the user ends (as users.reset_credentials)
        uow.add_event(revoke_user(SOURCE, new["id"], new["version"]))
        await uow.commit()
    return to_user(new)


async def change_pin(cmd: c.ChangePin, uow: UnitOfWork, p: Principal, deps: Deps) -> Ok:
    """The caller's own voicemail PIN; the current one is required when one is set."""
    if p.operator or p.account_id is None:
        raise Forbidden("Only users of an account have a PIN.")
    async with uow:
        row = await uow.users.get(p.account_id, p.user_id)
    if row is None:
        raise Unauthenticated("The session's user no longer exists.")
    if row["pin_hash"]:
        if cmd.current_pin is None:
            raise ValidationFailed.single("current_pin", "is required to change the PIN")
        if not await deps.hasher.verify(row["pin_hash"], cmd.current_pin):
            raise Unauthenticated("The current PIN is not correct.", {"field": "current_pin"})
    problems = domain.pin_problems(cmd.new_pin, row["extension_number"])
    if cmd.current_pin is not None and cmd.new_pin == cmd.current_pin:
        problems.append("must differ from the current PIN")
    if problems:
        raise ValidationFailed(errors=[field_error("new_pin", m) for m in problems])
    hashed = await deps.hasher.hash(cmd.new_pin)
    async with uow:
        new = await uow.users.update(row["id"], {"pin_hash": hashed})
        uow.add_event(_user_event(s.USER_UPDATED, new))
        await uow.commit()
    return Ok()
