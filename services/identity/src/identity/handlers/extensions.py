"""``identity.v1.extensions.*``: create, list and remove extensions.

Remove (DOMAIN.md 3, 6): only an Unassigned extension; one with a user (NotActivated,
Enabled or Disabled) is a ``conflict``: remove the user first (``users.remove`` with
``delete_extension``, or without it and then this). Another account's extension
answers exactly like a missing one."""

from __future__ import annotations

from shared.auth import Perm, Principal
from shared.contracts import identity as c
from shared.errors import (
    Conflict,
    LimitExceeded,
    NotFound,
    ValidationFailed,
)
from shared.ids import new_id
from shared.messaging.outbox import make_event

from identity import domain
from identity.handlers.common import SOURCE, _account
from identity.handlers.views import to_extension
from identity.ports import (
    UnitOfWork,
)
from shared import subjects as s

# --- extensions -----------------------------------------------------------------


async def create_extension(cmd: c.CreateExtension, uow: UnitOfWork, p: Principal) -> c.Extension:
    p.require(Perm.USERS_MANAGE, cmd.account_id)
    async with uow:
        acc = await _account(uow, cmd.account_id, lock=True)
        length = int(acc["extension_length"])
        if cmd.number is not None:
            problem = domain.extension_problem(cmd.number, length)
            if problem:
                raise ValidationFailed.single("number", problem)
            number = cmd.number
        else:
            lo, hi = domain.extension_range(length)
            free = await uow.extensions.next_free(cmd.account_id, lo, hi, 1, [])
            if not free:
                raise LimitExceeded("The account has no free extension numbers left.")
            number = free[0]
        row = {
            "id": new_id("ext"),
            "account_id": cmd.account_id,
            "number": number,
            "status": "Unassigned",
            "user_id": None,
        }
        await uow.extensions.insert_many([row])
        ext = to_extension(row)
        uow.add_event(
            make_event(SOURCE, s.EXTENSION_CREATED, ext.model_dump(mode="json"), key=ext.id)
        )
        await uow.commit()
    return ext


async def list_extensions(cmd: c.ListExtensions, uow: UnitOfWork, p: Principal) -> c.ExtensionPage:
    p.require(Perm.USERS_READ, cmd.account_id)
    async with uow:
        await _account(uow, cmd.account_id)
        rows = await uow.extensions.page(cmd.account_id, cmd.status, cmd.cursor, cmd.limit)
    items = [to_extension(r) for r in rows[: cmd.limit]]
    return c.ExtensionPage(items=items, next_cursor=items[-1].id if len(rows) > cmd.limit else None)


async def remove_extension(cmd: c.RemoveExtension, uow: UnitOfWork, p: Principal) -> c.Extension:
    p.require(Perm.USERS_MANAGE, cmd.account_id)
    async with uow:
        # the account row lock orders this after any add that could take the extension
        await _account(uow, cmd.account_id, lock=True)
        row = await uow.extensions.get(cmd.account_id, cmd.extension_id, lock=True)
        if row is None:
            raise NotFound("No such extension.", {"extension_id": cmd.extension_id})
        if row["status"] != "Unassigned" or row["user_id"] is not None:
            raise Conflict(
                "The extension has a user; only an Unassigned extension can be removed.",
                {"extension_id": cmd.extension_id, "status": row["status"]},
            )
        await uow.extensions.delete(row["id"])
        ext = to_extension(row)
        uow.add_event(
            make_event(SOURCE, s.EXTENSION_REMOVED, ext.model_dump(mode="json"), key=ext.id)
        )
        await uow.commit()
    return ext
