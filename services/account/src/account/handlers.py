"""Use cases of the account service: ``async def (cmd, uow, principal) -> reply``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared import subjects as s
from shared.auth import Perm, Principal
from shared.contracts import account as c
from shared.errors import NotFound
from shared.ids import new_id
from shared.messaging.outbox import make_event

from account import domain
from account.ports import UnitOfWork

SOURCE = "account"
UowFactory = Callable[[], UnitOfWork]


def to_account(row: dict[str, Any]) -> c.Account:
    return c.Account(
        id=row["id"],
        name=row["name"],
        country=row["country"],
        plan=row["plan"],
        status=row["status"],
        status_reason=row.get("status_reason"),
        multi_site=row["multi_site"],
        extension_length=row["extension_length"],
        settings=c.AccountSettingsView.model_validate(row["settings"]),
        created_at=row.get("created_at"),
    )


def account_facts(row: dict[str, Any]) -> dict[str, Any]:
    st = row["settings"]
    return c.AccountFacts(
        account_id=row["id"],
        name=row["name"],
        country=row["country"],
        plan=row["plan"],
        status=row["status"],
        multi_site=row["multi_site"],
        extension_length=row["extension_length"],
        require_unique_email=st["require_unique_email"],
        default_time_zone=st["default_time_zone"],
        default_language=st["default_language"],
        regional_format=st["regional_format"],
        user_types=domain.user_types_for(row["plan"]),
    ).model_dump()


async def create_account(cmd: c.CreateAccount, uow: UnitOfWork, principal: Principal) -> c.Account:
    principal.require_operator()
    settings = domain.default_settings(cmd.country)
    if cmd.settings is not None:
        settings = domain.merge_settings(settings, cmd.settings.model_dump(mode="json", exclude_none=True))
    async with uow:
        row = await uow.accounts.add(
            {
                "id": new_id("acc"),
                "name": cmd.name,
                "country": cmd.country,
                "plan": cmd.plan,
                "status": "Active",
                "multi_site": cmd.multi_site,
                "extension_length": cmd.extension_length,
                "settings": settings,
            }
        )
        uow.add_event(make_event(SOURCE, s.ACCOUNT_CREATED, account_facts(row), key=row["id"]))
        await uow.commit()
    return to_account(row)


async def get_account(cmd: c.GetAccount, uow: UnitOfWork, principal: Principal) -> c.Account:
    principal.require(Perm.ACCOUNT_READ, cmd.account_id)
    async with uow:
        row = await uow.accounts.get(cmd.account_id)
    if row is None:
        raise NotFound("No such account.", {"account_id": cmd.account_id})
    return to_account(row)


async def list_accounts(cmd: c.ListAccounts, uow: UnitOfWork, principal: Principal) -> c.AccountPage:
    principal.require_operator()
    async with uow:
        rows = await uow.accounts.list(
            query=cmd.query, status=cmd.status, after=cmd.cursor, limit=cmd.limit + 1
        )
    items = [to_account(r) for r in rows[: cmd.limit]]
    nxt = items[-1].id if len(rows) > cmd.limit else None
    return c.AccountPage(items=items, next_cursor=nxt)
