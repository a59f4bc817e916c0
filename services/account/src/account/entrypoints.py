"""Subscribers: contract in -> handler -> contract out. Nothing else lives here."""

from __future__ import annotations

from typing import cast

from shared import subjects as s
from shared.auth import Principal
from shared.contracts import account as c
from shared.messaging.rpc import RpcRouter
from shared.service import Service

from account import handlers as h
from account.adapters.uow import AccountUnitOfWork


def register(rpc: RpcRouter, svc: Service) -> None:
    def uow() -> AccountUnitOfWork:
        return cast(AccountUnitOfWork, svc.uow())

    @rpc.endpoint(s.ACCOUNTS_CREATE, c.CreateAccount, c.Account, summary="(op) Create an account.")
    async def create(cmd: c.CreateAccount, p: Principal | None) -> c.Account:
        assert p is not None
        return await h.create_account(cmd, uow(), p)

    @rpc.endpoint(s.ACCOUNTS_GET, c.GetAccount, c.Account, summary="Get an account.")
    async def get(cmd: c.GetAccount, p: Principal | None) -> c.Account:
        assert p is not None
        return await h.get_account(cmd, uow(), p)

    @rpc.endpoint(s.ACCOUNTS_LIST, c.ListAccounts, c.AccountPage, summary="(op) Search accounts.")
    async def list_(cmd: c.ListAccounts, p: Principal | None) -> c.AccountPage:
        assert p is not None
        return await h.list_accounts(cmd, uow(), p)
