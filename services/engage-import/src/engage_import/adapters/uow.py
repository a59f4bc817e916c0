from __future__ import annotations

from typing import Self

from shared.db import UnitOfWork

from engage_import.adapters.agent_repository import AgentRepository, VoiceRepository
from engage_import.adapters.repository import (
    AccountFactsRepository,
    CatalogRepository,
    DirectoryRepository,
    ImportRepository,
    LinkRepository,
)


class EngageUnitOfWork(UnitOfWork):
    accounts: AccountFactsRepository
    directory: DirectoryRepository
    links: LinkRepository
    catalog: CatalogRepository
    agents: AgentRepository
    imports: ImportRepository
    voice: VoiceRepository

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        s = self.session
        self.accounts = AccountFactsRepository(s)
        self.directory = DirectoryRepository(s)
        self.links = LinkRepository(s)
        self.catalog = CatalogRepository(s)
        self.agents = AgentRepository(s)
        self.imports = ImportRepository(s)
        self.voice = VoiceRepository(s)
        return self
