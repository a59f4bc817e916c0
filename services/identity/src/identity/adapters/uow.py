from __future__ import annotations

from typing import Any, Self

from shared.db import UnitOfWork

from identity.adapters.directory_repository import IntegrationRepository, ProvisioningRepository
from identity.adapters.repository import (
    AccountFactsRepository,
    ExtensionRepository,
    OperatorRepository,
    RoleRepository,
    ThrottleRepository,
    UserRepository,
)


class IdentityUnitOfWork(UnitOfWork):
    operators: OperatorRepository
    accounts: AccountFactsRepository
    roles: RoleRepository
    extensions: ExtensionRepository
    users: UserRepository
    throttle: ThrottleRepository
    provisioning: ProvisioningRepository
    integrations: IntegrationRepository

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.bind()
        return self

    def bind(self) -> None:
        """Attach the repositories to the open session (also for consumer deliveries,
        whose transaction the consumer runner opened)."""
        self.operators = OperatorRepository(self.session)
        self.accounts = AccountFactsRepository(self.session)
        self.roles = RoleRepository(self.session)
        self.extensions = ExtensionRepository(self.session)
        self.users = UserRepository(self.session)
        self.throttle = ThrottleRepository(self.session)
        self.provisioning = ProvisioningRepository(self.session)
        self.integrations = IntegrationRepository(self.session)

    def savepoint(self) -> Any:
        return self.session.begin_nested()
