from __future__ import annotations

from typing import Self

from shared.db import UnitOfWork

from invite_scheduler.adapters.recoveries import RecoveryRepository
from invite_scheduler.adapters.repository import AccountRepository, InviteRepository
from invite_scheduler.adapters.user_repository import UserRepository


class InviteUnitOfWork(UnitOfWork):
    invites: InviteRepository
    users: UserRepository
    accounts: AccountRepository
    recoveries: RecoveryRepository

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.invites = InviteRepository(self.session)
        self.users = UserRepository(self.session)
        self.accounts = AccountRepository(self.session)
        self.recoveries = RecoveryRepository(self.session)
        return self
