from __future__ import annotations

from typing import Self

from shared.db import UnitOfWork

from account.adapters.repository import AccountRepository


class AccountUnitOfWork(UnitOfWork):
    accounts: AccountRepository

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.accounts = AccountRepository(self.session)
        return self
