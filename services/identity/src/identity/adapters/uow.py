from __future__ import annotations

from typing import Self

from shared.db import UnitOfWork

from identity.adapters.repository import AccountFactsRepository, OperatorRepository


class IdentityUnitOfWork(UnitOfWork):
    operators: OperatorRepository
    accounts: AccountFactsRepository

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.operators = OperatorRepository(self.session)
        self.accounts = AccountFactsRepository(self.session)
        return self
