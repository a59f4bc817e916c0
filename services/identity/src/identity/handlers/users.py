"""``identity.v1.users.*``: add (and a user on an unassigned extension), get, list,
emergency location; and email checks."""

from __future__ import annotations

from shared.auth import Perm, Principal
from shared.contracts import identity as c
from shared.errors import (
    NotFound,
)

from identity.handlers.common import (
    Actor,
    Deps,
    _account,
    _may_see,
    _require_covers,
    _role_permissions,
)
from identity.handlers.provisioning import provision_request
from identity.handlers.views import _user_event, to_user
from identity.ports import (
    UnitOfWork,
)
from shared import subjects as s


async def add_users(cmd: c.AddUsers, uow: UnitOfWork, p: Principal, deps: Deps) -> c.UserList:
    p.require(Perm.USERS_MANAGE, cmd.account_id)
    actor = Actor(p, cmd.acknowledge_charges)
    done = await provision_request(uow, deps, actor, cmd.account_id, cmd.users)
    return c.UserList(users=[to_user(r) for r in done.rows])


async def assign_extension(
    cmd: c.AssignExtension, uow: UnitOfWork, p: Principal, deps: Deps
) -> c.User:
    p.require(Perm.USERS_MANAGE, cmd.account_id)
    actor = Actor(p, cmd.acknowledge_charges)
    done = await provision_request(
        uow, deps, actor, cmd.account_id, [cmd.user], prefix="user", extension_id=cmd.extension_id
    )
    return to_user(done.rows[0])


async def get_user(cmd: c.GetUser, uow: UnitOfWork, p: Principal) -> c.User:
    _may_see(p, cmd.account_id, cmd.user_id, Perm.USERS_READ)
    async with uow:
        row = await uow.users.get(cmd.account_id, cmd.user_id)
    if row is None:
        raise NotFound("No such user.", {"user_id": cmd.user_id})
    return to_user(row)


async def list_users(cmd: c.ListUsers, uow: UnitOfWork, p: Principal) -> c.UserPage:
    p.require(Perm.USERS_READ, cmd.account_id)
    async with uow:
        await _account(uow, cmd.account_id)
        rows = await uow.users.page(cmd.account_id, cmd.query, cmd.status, cmd.cursor, cmd.limit)
    items = [to_user(r) for r in rows[: cmd.limit]]
    return c.UserPage(items=items, next_cursor=items[-1].id if len(rows) > cmd.limit else None)


async def set_emergency_location(
    cmd: c.SetEmergencyLocation, uow: UnitOfWork, p: Principal
) -> c.User:
    """Setting the location clears the flag that blocks calling."""
    _may_see(p, cmd.account_id, cmd.user_id, Perm.USERS_MANAGE)
    async with uow:
        row = await uow.users.get(cmd.account_id, cmd.user_id, lock=True)
        if row is None:
            raise NotFound("No such user.", {"user_id": cmd.user_id})
        if p.user_id != row["id"]:
            _require_covers(p, await _role_permissions(uow, row), "change")
        profile = dict(row["profile"]) | {"emergency_location": cmd.location.model_dump()}
        new = await uow.users.update(
            cmd.user_id, {"profile": profile, "needs_emergency_location": False}
        )
        uow.add_event(_user_event(s.USER_UPDATED, new))
        await uow.commit()
    return to_user(new)


async def check_email(cmd: c.CheckEmail, uow: UnitOfWork, p: Principal) -> c.EmailAvailability:
    p.require(Perm.USERS_READ)
    async with uow:
        used = await uow.users.email_in_use(cmd.email)
    return c.EmailAvailability(email=cmd.email, available=not used)
