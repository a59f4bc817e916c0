from __future__ import annotations

from typing import Self

from shared.db import UnitOfWork

from account.adapters.inventory_repository import InventoryRepository
from account.adapters.portal_repository import LinkCodeRepository, PortalRepository
from account.adapters.projection_repository import ProjectionRepository
from account.adapters.repository import (
    AccountRepository,
    AllocationRepository,
    ChargeRepository,
    NamedChildRepository,
    SiteRepository,
)
from account.adapters.tables import cost_centers


class AccountUnitOfWork(UnitOfWork):
    accounts: AccountRepository
    sites: SiteRepository
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
        self.sites = SiteRepository(s)
        self.cost_centers = NamedChildRepository(s, cost_centers)
        self.inventory = InventoryRepository(s)
        self.charges = ChargeRepository(s)
        self.allocations = AllocationRepository(s)
        self.portals = PortalRepository(s)
        self.link_codes = LinkCodeRepository(s)
        self.projections = ProjectionRepository(s)
        return self
