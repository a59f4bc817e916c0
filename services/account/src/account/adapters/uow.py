from __future__ import annotations

from typing import Self

from shared.db import UnitOfWork

from account.adapters.repository import (
    AccountRepository,
    AllocationRepository,
    ChargeRepository,
    InventoryRepository,
    LinkCodeRepository,
    NamedChildRepository,
    PortalRepository,
    ProjectionRepository,
)
from account.adapters.tables import cost_centers, sites


class AccountUnitOfWork(UnitOfWork):
    accounts: AccountRepository
    sites: NamedChildRepository
    cost_centers: NamedChildRepository
    inventory: InventoryRepository
    charges: ChargeRepository
    allocations: AllocationRepository
    portals: PortalRepository
    link_codes: LinkCodeRepository
    projections: ProjectionRepository

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        s = self.session
        self.accounts = AccountRepository(s)
        self.sites = NamedChildRepository(s, sites)
        self.cost_centers = NamedChildRepository(s, cost_centers)
        self.inventory = InventoryRepository(s)
        self.charges = ChargeRepository(s)
        self.allocations = AllocationRepository(s)
        self.portals = PortalRepository(s)
        self.link_codes = LinkCodeRepository(s)
        self.projections = ProjectionRepository(s)
        return self
