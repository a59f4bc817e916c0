"""``identity.v1.roles.*``: list and create roles, set the default one.

The account's default role is the one a new user gets when its entry names none
(DOMAIN.md 6, "Change"). Admins who manage roles set it, and never to a role granting
permissions they do not hold (least privilege)."""

from __future__ import annotations

from shared.auth import Perm, Principal
from shared.contracts import identity as c
from shared.errors import (
    Forbidden,
    NotFound,
    ValidationFailed,
    field_error,
)
from shared.ids import new_id
from shared.messaging.outbox import make_event

from identity import domain
from identity.handlers.common import SOURCE, _account, _custom_role, _find_role
from identity.handlers.views import _role_view
from identity.ports import (
    UnitOfWork,
)
from shared import subjects as s


async def list_roles(cmd: c.ListRoles, uow: UnitOfWork, p: Principal) -> c.RoleList:
    p.require(Perm.USERS_READ, cmd.account_id)
    async with uow:
        acc = await _account(uow, cmd.account_id)
        custom = await uow.roles.for_account(cmd.account_id)
    items = [_role_view(r, None) for r in domain.PREDEFINED_ROLES]
    items += [_role_view(_custom_role(r), cmd.account_id) for r in custom]
    default = acc.get("default_role_id") or domain.DEFAULT_ROLE_ID
    for item in items:
        item.default = item.id == default
    return c.RoleList(items=items)


async def create_role(cmd: c.CreateRole, uow: UnitOfWork, p: Principal) -> c.Role:
    p.require(Perm.ROLES_MANAGE, cmd.account_id)
    errors = []
    unknown = domain.unknown_permissions(cmd.permissions)
    if unknown:
        errors.append(field_error("permissions", f"unknown permissions: {', '.join(unknown)}"))
    if domain.is_predefined_name(cmd.name):
        errors.append(field_error("name", "is the name of a predefined role"))
    if errors:
        raise ValidationFailed(errors=errors)
    if not p.operator and not set(cmd.permissions) <= p.permissions:
        raise Forbidden("A role may not grant permissions the caller does not hold.")
    role = domain.Role(
        new_id("role"), cmd.name, frozenset(cmd.permissions), cmd.international_calling, False
    )
    async with uow:
        await _account(uow, cmd.account_id)
        await uow.roles.add(
            {
                "id": role.id,
                "account_id": cmd.account_id,
                "name": role.name,
                "permissions": sorted(role.permissions),
                "international_calling": role.international_calling,
            }
        )
        view = _role_view(role, cmd.account_id)
        uow.add_event(make_event(SOURCE, s.ROLE_CREATED, view.model_dump(), key=role.id))
        await uow.commit()
    return view


async def set_default_role(cmd: c.SetDefaultRole, uow: UnitOfWork, p: Principal) -> c.Role:
    p.require(Perm.ROLES_MANAGE, cmd.account_id)
    async with uow:
        await _account(uow, cmd.account_id, lock=True)
        custom = [_custom_role(r) for r in await uow.roles.for_account(cmd.account_id)]
        role = _find_role(cmd.role, custom)
        if role is None:
            raise NotFound("No such role.", {"field": "role", "role": cmd.role})
        if not p.operator and not role.permissions <= p.permissions:
            raise Forbidden(
                "The default role may not grant permissions you do not hold.",
                {"field": "role", "missing_permissions": sorted(role.permissions - p.permissions)},
            )
        await uow.accounts.set_default_role(cmd.account_id, role.id)
        view = _role_view(role, None if role.predefined else cmd.account_id)
        view.default = True
        data = {"account_id": cmd.account_id, "role_id": role.id, "role": role.name}
        uow.add_event(make_event(SOURCE, s.ROLE_DEFAULT_SET, data, key=cmd.account_id))
        await uow.commit()
    return view
