from __future__ import annotations

from typing import ClassVar

from shared.settings import ServiceSettings


class AccountConfig(ServiceSettings):
    service_name: ClassVar[str] = "account"
    env_prefix: ClassVar[str] = "ACCOUNT_"
    database_name: ClassVar[str] = "account"
