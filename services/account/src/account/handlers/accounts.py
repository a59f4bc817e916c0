"""Accounts: create, read, list, settings, status; the plan catalogue."""

from __future__ import annotations

from typing import Any

from shared.auth import Perm, Principal
from shared.contracts import account as c
from shared.errors import (
    NotFound,
)
from shared.ids import new_id
from shared.messaging.outbox import make_event
from shared.revocations import revoke_account

from account import domain
from account.handlers.common import (
    SOURCE,
    load_account,
)
from account.ports import AccountReader, UnitOfWork
from shared import subjects as s


def to_account(acc: domain.Account) -> c.Account:
    return c.Account(
        id=acc.id,
        name=acc.name,
        country=acc.country,
        plan=acc.plan,
        status=acc.status,
        status_reason=acc.status_reason,
        multi_site=acc.multi_site,
        extension_length=acc.extension_length,
        settings=c.AccountSettingsView.model_validate(acc.settings),
        created_at=acc.created_at,
    )


def account_facts(acc: domain.Account) -> dict[str, Any]:
    st = acc.settings
    return c.AccountFacts(
        account_id=acc.id,
        name=acc.name,
        country=acc.country,
        plan=acc.plan,
        status=acc.status,
        multi_site=acc.multi_site,
        extension_length=acc.extension_length,
        require_unique_email=st["require_unique_email"],
        default_time_zone=st["default_time_zone"],
        default_language=st["default_language"],
        regional_format=st["regional_format"],
        user_types=domain.user_types_for(acc.plan),
        status_reason=acc.status_reason,
        version=acc.version or 1,
    ).model_dump()


async def create_account(cmd: c.CreateAccount, uow: UnitOfWork, p: Principal) -> c.Account:
    p.require_operator()
    settings = domain.default_settings(cmd.country)
    if cmd.settings is not None:
        settings = domain.merge_settings(
            settings, cmd.settings.model_dump(mode="json", exclude_none=True)
        )
    async with uow:
        acc = await uow.accounts.add(
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
        uow.add_event(make_event(SOURCE, s.ACCOUNT_CREATED, account_facts(acc), key=acc.id))
        await uow.commit()
    return to_account(acc)


async def get_account(cmd: c.GetAccount, reader: AccountReader, p: Principal) -> c.Account:
    p.require(Perm.ACCOUNT_READ, cmd.account_id)
    acc = await reader.account(cmd.account_id)
    if acc is None:
        raise NotFound("No such account.", {"account_id": cmd.account_id})
    return to_account(acc)


async def list_accounts(cmd: c.ListAccounts, read_uow: UnitOfWork, p: Principal) -> c.AccountPage:
    p.require_operator()
    async with read_uow:
        found = await read_uow.accounts.list(
            query=cmd.query, status=cmd.status, after=cmd.cursor, limit=cmd.limit + 1
        )
    items = [to_account(a) for a in found[: cmd.limit]]
    nxt = items[-1].id if len(found) > cmd.limit else None
    return c.AccountPage(items=items, next_cursor=nxt)


async def update_settings(cmd: c.UpdateSettings, uow: UnitOfWork, p: Principal) -> c.Account:
    p.require(Perm.ACCOUNT_MANAGE, cmd.account_id)
    patch = cmd.settings.model_dump(mode="json", exclude_none=True)
    async with uow:
        acc = await load_account(uow, cmd.account_id, for_update=True)
        acc.require_open()
        merged = acc.settings_after(patch)
        if merged is None:
            return to_account(acc)
        acc = await uow.accounts.update(cmd.account_id, {"settings": merged})
        data = account_facts(acc) | {"settings": merged, "changed": sorted(patch)}
        uow.add_event(make_event(SOURCE, s.ACCOUNT_SETTINGS_UPDATED, data, key=acc.id))
        await uow.commit()
    return to_account(acc)


async def set_status(cmd: c.SetStatus, uow: UnitOfWork, p: Principal) -> c.Account:
    p.require_operator()
    async with uow:
        acc = await load_account(uow, cmd.account_id, for_update=True)
        reason = acc.status_after(cmd.status, cmd.reason)
        if acc.status == cmd.status and acc.status_reason == reason:
            return to_account(acc)
        previous = acc.status
        acc = await uow.accounts.update(
            cmd.account_id, {"status": cmd.status, "status_reason": reason}
        )
        data = account_facts(acc) | {"previous_status": previous}
        uow.add_event(make_event(SOURCE, s.ACCOUNT_STATUS_CHANGED, data, key=acc.id))
        if cmd.status != previous:
            # sessions issued before end; none works while Suspended or Closed
            # (docs/security.md, "Sessions and authorization")
            uow.add_event(revoke_account(SOURCE, acc.id, blocked=cmd.status != "Active"))
        await uow.commit()
    return to_account(acc)


# --- plans -------------------------------------------------------------------


async def list_plans(cmd: c.ListPlans, p: Principal) -> c.PlanList:
    return c.PlanList(
        items=[
            c.PlanView(plan=plan, user_types=domain.user_types_for(plan), **info)
            for plan, info in domain.PLAN_CATALOGUE.items()
        ]
    )
