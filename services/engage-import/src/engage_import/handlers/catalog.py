"""Roles, teams and categories of an Engage account."""

from __future__ import annotations

from typing import Any

from shared.auth import Perm, Principal
from shared.contracts import engage as c
from shared.errors import Conflict, ValidationFailed, field_error
from shared.ids import new_id
from shared.messaging.outbox import make_event

from engage_import import domain
from engage_import.domain.model import EngageLink
from engage_import.handlers.access import SOURCE, engage_account
from engage_import.ports import NamedKind, Row, UnitOfWork
from shared import subjects as s


async def check_assignment(
    uow: UnitOfWork,
    link: EngageLink,
    role_id: str | None,
    team_ids: list[str] | None,
    category_ids: list[str] | None,
) -> list[dict[str, Any]]:
    """The errors of a role, teams and categories given to agents (None: not given):
    each must exist in the Engage account (on import and on update alike)."""
    errors: list[dict[str, Any]] = []
    if role_id is not None and await uow.catalog.role(link.id, role_id) is None:
        errors.append(field_error("role_id", "No such role in this Engage account."))
    checks: tuple[tuple[NamedKind, list[str] | None, str, str], ...] = (
        ("teams", team_ids, "team_ids", "team"),
        ("categories", category_ids, "category_ids", "category"),
    )
    for kind, ids, label, what in checks:
        if ids is None:
            continue
        found = await uow.catalog.existing_named(kind, link.id, ids)
        errors += [
            field_error(f"{label}[{i}]", f"No such {what} in this Engage account.", index=i)
            for i, x in enumerate(ids)
            if x not in found
        ]
    return errors


def to_role(row: Row) -> c.Role:
    return c.Role(
        id=row["id"],
        engage_account_id=row["engage_account_id"],
        name=row["name"],
        permissions=list(row["permissions"]),
        predefined=row["predefined"],
    )


async def list_roles(cmd: c.ListInEngageAccount, uow: UnitOfWork, p: Principal) -> c.RolePage:
    async with uow:
        link = await engage_account(uow, cmd.engage_account_id, p, Perm.ENGAGE_READ)
        rows = await uow.catalog.roles(link.id, after=cmd.cursor, limit=cmd.limit + 1)
    items = [to_role(r) for r in rows[: cmd.limit]]
    return c.RolePage(items=items, next_cursor=items[-1].id if len(rows) > cmd.limit else None)


async def create_role(cmd: c.CreateRole, uow: UnitOfWork, p: Principal) -> c.Role:
    """A custom role: a name not used by another role of the Engage account and a
    non-empty set of the product's permissions."""
    bad = domain.unknown_permissions(cmd.permissions)
    if bad:
        raise ValidationFailed(
            "Unknown permissions.",
            [
                field_error(
                    f"permissions[{i}]",
                    f"'{cmd.permissions[i]}' is not a contact-centre permission.",
                    index=i,
                    allowed=list(domain.ENGAGE_PERMISSIONS),
                )
                for i in bad
            ],
        )
    async with uow:
        link = await engage_account(uow, cmd.engage_account_id, p, Perm.ENGAGE_MANAGE)
        row = await uow.catalog.add_role(
            {
                "engage_account_id": link.id,
                "id": new_id("erl"),
                "name": cmd.name,
                "permissions": domain.dedupe(cmd.permissions),
                "predefined": False,
            }
        )
        if row is None:
            raise Conflict("A role of that name already exists.", {"field": "name"})
        role = to_role(row)
        uow.add_event(make_event(SOURCE, s.ENGAGE_ROLE_CREATED, role.model_dump(), key=row["id"]))
        await uow.commit()
    return role


async def list_named(
    kind: NamedKind, cmd: c.ListInEngageAccount, uow: UnitOfWork, p: Principal
) -> tuple[list[Row], str | None]:
    """A page of teams or categories: (items, next cursor)."""
    async with uow:
        link = await engage_account(uow, cmd.engage_account_id, p, Perm.ENGAGE_READ)
        rows = await uow.catalog.list_named(kind, link.id, after=cmd.cursor, limit=cmd.limit + 1)
    items = [_named(r) for r in rows[: cmd.limit]]
    return items, (items[-1]["id"] if len(rows) > cmd.limit else None)


def _named(row: Row) -> Row:
    return {"id": row["id"], "engage_account_id": row["engage_account_id"], "name": row["name"]}


async def create_named(kind: NamedKind, cmd: c.CreateNamed, uow: UnitOfWork, p: Principal) -> Row:
    """A team or a category: names are unique (case-insensitively) in the Engage account."""
    prefix, subject = {
        "teams": ("tea", s.ENGAGE_TEAM_CREATED),
        "categories": ("cat", s.ENGAGE_CATEGORY_CREATED),
    }[kind]
    async with uow:
        link = await engage_account(uow, cmd.engage_account_id, p, Perm.ENGAGE_MANAGE)
        row = await uow.catalog.add_named(
            kind, {"id": new_id(prefix), "engage_account_id": link.id, "name": cmd.name}
        )
        if row is None:
            what = "team" if kind == "teams" else "category"
            raise Conflict(f"A {what} of that name already exists.", {"field": "name"})
        out = _named(row)
        uow.add_event(make_event(SOURCE, subject, out, key=row["id"]))
        await uow.commit()
    return out


async def list_teams(cmd: c.ListInEngageAccount, uow: UnitOfWork, p: Principal) -> c.TeamPage:
    items, nxt = await list_named("teams", cmd, uow, p)
    return c.TeamPage(items=[c.Team.model_validate(i) for i in items], next_cursor=nxt)


async def create_team(cmd: c.CreateNamed, uow: UnitOfWork, p: Principal) -> c.Team:
    return c.Team.model_validate(await create_named("teams", cmd, uow, p))


async def list_categories(
    cmd: c.ListInEngageAccount, uow: UnitOfWork, p: Principal
) -> c.CategoryPage:
    items, nxt = await list_named("categories", cmd, uow, p)
    return c.CategoryPage(items=[c.Category.model_validate(i) for i in items], next_cursor=nxt)


async def create_category(cmd: c.CreateNamed, uow: UnitOfWork, p: Principal) -> c.Category:
    return c.Category.model_validate(await create_named("categories", cmd, uow, p))
