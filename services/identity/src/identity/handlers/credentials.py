"""Credentials set by an administrator and users removed: ``users.assign_credentials``,
``users.reset_credentials``, ``users.remove``."""

from __future__ import annotations

from typing import Any

from shared.auth import Perm, Principal
from shared.contracts import identity as c
from shared.errors import (
    Conflict,
    NotFound,
    ValidationFailed,
    field_error,
)
from shared.messaging.outbox import make_event
from shared.revocations import revoke_user

from identity import domain
from identity.domain.model import Credentials
from identity.handlers.common import (
    _ADMIN_PERMS,
    SOURCE,
    Deps,
    _account,
    _keep_one_full_admin,
    _require_covers,
    _role_permissions,
)
from identity.handlers.entries import _hash_credentials
from identity.handlers.views import _user_event, to_user
from identity.ports import (
    UnitOfWork,
)
from shared import subjects as s


def _refuse_problems(creds: Credentials, row: dict[str, Any]) -> None:
    """``validation_failed`` with every problem of the credentials given for the user."""
    problems = creds.problems(
        first_name=row["first_name"],
        last_name=row["last_name"],
        email=row["email"],
        extension_number=row["extension_number"],
    )
    if problems:
        raise ValidationFailed(errors=[field_error(f, m) for f, m in problems])


async def assign_credentials(
    cmd: c.AssignUserCredentials, uow: UnitOfWork, p: Principal, deps: Deps
) -> c.User:
    """A user left NotActivated ("activate later", or invited) becomes Enabled."""
    p.require(Perm.USERS_MANAGE, cmd.account_id)
    async with uow:
        row = await uow.users.get(cmd.account_id, cmd.user_id)
        if row is None:
            raise NotFound("No such user.", {"user_id": cmd.user_id})
        _require_covers(p, await _role_permissions(uow, row), "set the credentials of")
    _refuse_problems(Credentials(cmd.password, cmd.pin, cmd.security_answer), row)
    st = c.AssignCredentials(
        option="assign_credentials",
        password=cmd.password,
        temporary_password=cmd.temporary_password,
        pin=cmd.pin,
        security_question=cmd.security_question,
        security_answer=cmd.security_answer,
    )
    pw, pin, answer = await _hash_credentials(deps.hasher, st)
    async with uow:
        row = await uow.users.get(cmd.account_id, cmd.user_id, lock=True)
        assert row is not None
        if row["status"] != "NotActivated":
            raise Conflict("The user is already activated.", {"status": row["status"]})
        # the role may have changed while the hashes were computed
        _require_covers(p, await _role_permissions(uow, row), "set the credentials of")
        new = await uow.users.update(
            cmd.user_id,
            {
                "status": "Enabled",
                "password_hash": pw,
                "pin_hash": pin,
                "security_question": cmd.security_question,
                "security_answer_hash": answer,
                "must_change_password": cmd.temporary_password,
            },
        )
        await uow.extensions.update(new["extension_id"], status="Enabled")
        uow.add_event(_user_event(s.USER_ACTIVATED, new))
        await uow.commit()
    return to_user(new)


async def remove_user(cmd: c.RemoveUser, uow: UnitOfWork, p: Principal) -> c.User:
    """The user is gone (its row is deleted, so its email is free again and it cannot
    sign in); its extension goes back to Unassigned, or is deleted on request; every
    session it holds ends; ``user.removed`` tells the other services (invites
    cancelled, agent dropped). Removing a removed user answers ``not_found``."""
    p.require(Perm.USERS_MANAGE, cmd.account_id)
    async with uow:
        # deleting the extension frees its number (the account's extension floor goes
        # down): the account row lock first, in the order users.add takes them
        await _account(uow, cmd.account_id, lock=cmd.delete_extension)
        row = await uow.users.get(cmd.account_id, cmd.user_id, lock=True)
        if row is None:
            raise NotFound("No such user.", {"user_id": cmd.user_id})
        target_perms = await _role_permissions(uow, row)
        _require_covers(p, target_perms, "remove")
        if row["status"] == "Enabled" and target_perms >= _ADMIN_PERMS:
            await _account(uow, cmd.account_id, lock=True)
            await _keep_one_full_admin(uow, cmd.account_id, cmd.user_id)
        await uow.users.delete(cmd.user_id)
        if cmd.delete_extension:
            await uow.extensions.delete(row["extension_id"])
        else:
            await uow.extensions.update(row["extension_id"], status="Unassigned", user_id=None)
        gone = row | {"status": "Removed", "version": row["version"] + 1}
        data = {
            "user_id": row["id"],
            "account_id": row["account_id"],
            "version": gone["version"],
            # everything the user held goes back to inventory (the account service frees it)
            "released": domain.held(row["user_type"], row["profile"]),
        }
        uow.add_event(make_event(SOURCE, s.USER_REMOVED, data, key=row["id"]))
        # every session opened before (uv <= the last version) ends everywhere
        uow.add_event(revoke_user(SOURCE, row["id"], gone["version"]))
        await uow.commit()
    return to_user(gone)


async def reset_credentials(
    cmd: c.ResetUserCredentials, uow: UnitOfWork, p: Principal, deps: Deps
) -> c.User:
    """An administrator sets a new password (temporary by default) and/or PIN of an
    activated user; every session of the user ends. Nothing is generated: at least
    one of ``password`` and ``pin`` is required."""
    p.require(Perm.USERS_MANAGE, cmd.account_id)
    if cmd.password is None and cmd.pin is None:
        raise ValidationFailed(
            errors=[field_error("password", "give a new password, a new PIN, or both")]
        )
    async with uow:
        row = await uow.users.get(cmd.account_id, cmd.user_id)
        if row is None:
            raise NotFound("No such user.", {"user_id": cmd.user_id})
        _require_covers(p, await _role_permissions(uow, row), "reset the credentials of")
    if row["status"] == "NotActivated":
        raise Conflict(
            "The user is not activated yet; use users.assign_credentials.",
            {"status": row["status"]},
        )
    _refuse_problems(Credentials(cmd.password, cmd.pin), row)
    values: dict[str, Any] = {}
    if cmd.password is not None:
        values["password_hash"] = await deps.hasher.hash(cmd.password)
        values["must_change_password"] = cmd.temporary_password
    if cmd.pin is not None:
        values["pin_hash"] = await deps.hasher.hash(cmd.pin)
    async with uow:
        row = await uow.users.get(cmd.account_id, cmd.user_id, lock=True)
        if row is None:
            raise NotFound("No such user.", {"user_id": cmd.user_id})
        # the role may have changed while the hashes were computed
        _require_covers(p, await _role_permissions(uow, row), "reset the credentials of")
        new = await uow.users.update(cmd.user_id, values)
        uow.add_event(_user_event(s.USER_UPDATED, new))
        # every session of the user ends: it signs in with the new credentials
        uow.add_event(revoke_user(SOURCE, new["id"], new["version"]))
        await uow.commit()
    return to_user(new)
