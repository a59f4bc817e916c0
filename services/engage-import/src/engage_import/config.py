from __future__ import annotations

from typing import ClassVar

from shared.settings import ServiceSettings


class EngageImportConfig(ServiceSettings):
    service_name: ClassVar[str] = "engage-import"
    env_prefix: ClassVar[str] = "ENGAGE_"
    database_name: ClassVar[str] = "engage_import"
