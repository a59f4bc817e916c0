"""``identity.v1.activation.complete``: accept an invitation."""

from __future__ import annotations

from shared.contracts import identity as c
from shared.errors import (
    Conflict,
    NotFound,
    ValidationFailed,
    field_error,
)

from identity import domain
from identity.handlers.common import Deps
from identity.handlers.views import _user_event, to_user
from identity.ports import (
    UnitOfWork,
)
from shared import subjects as s


async def complete_activation(cmd: c.CompleteActivation, uow: UnitOfWork, deps: Deps) -> c.User:
    """Redeem the invitation (dry run, check the password against that user, then
    consume), set the password; the user is Enabled."""
    invite = await deps.invitations.redeem(cmd.token, dry_run=True)
    async with uow:
        row = await uow.users.get(str(invite["account_id"]), str(invite["user_id"]))
    if row is None:
        raise NotFound("The invitation is not valid.", {"reason": "invalid"})
    if row["status"] != "NotActivated":
        raise Conflict("The user is already activated.", {"reason": "used"})
    problems = domain.password_problems(
        cmd.password, first_name=row["first_name"], last_name=row["last_name"], email=row["email"]
    )
    if problems:
        raise ValidationFailed(errors=[field_error("password", m) for m in problems])
    hashed = await deps.hasher.hash(cmd.password)
    await deps.invitations.redeem(cmd.token, dry_run=False)
    async with uow:
        row = await uow.users.get(row["account_id"], row["id"], lock=True)
        assert row is not None
        if row["status"] != "NotActivated":
            raise Conflict("The user is already activated.", {"reason": "used"})
        new = await uow.users.update(
            row["id"], {"status": "Enabled", "password_hash": hashed, "must_change_password": False}
        )
        await uow.extensions.update(new["extension_id"], status="Enabled")
        uow.add_event(_user_event(s.USER_ACTIVATED, new))
        await uow.commit()
    return to_user(new)
