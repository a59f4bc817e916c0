"""Base of every service's settings (pydantic-settings).

Shared variables (``NATS_URL``, ``DATABASE_URL``, ``TOKEN_PUBLIC_KEY`` ...) are read
unprefixed; each service may override any of them with its own prefix, e.g.
``IDENTITY_DATABASE_URL``.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.db import database_url_for


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", env_prefix="")

    service_name: ClassVar[str] = "service"
    env_prefix: ClassVar[str] = ""
    database_name: ClassVar[str] = "service"

    nats_url: str = "nats://127.0.0.1:4222"
    database_url: str = ""
    token_public_key: str = ""
    log_level: str = "INFO"
    version: str = "0.1.0"
    migrate_on_start: bool = True
    outbox_batch: int = Field(default=500, ge=1, le=5000)
    consumer_max_deliver: int = Field(default=10, ge=1)
    request_timeout: float = 5.0
    internal_key: str = ""
    # tokens are refused when revocations are not known to be this fresh (docs/security.md)
    revocation_max_lag_seconds: float = Field(default=1.0, gt=0, le=60)
    db_name: str = ""

    @model_validator(mode="before")
    @classmethod
    def _prefixed_overrides(cls, data: Any) -> Any:
        """``<PREFIX>_<NAME>`` wins over ``<NAME>`` for every field."""
        if not isinstance(data, dict):
            return data
        prefix = cls.env_prefix
        if prefix:
            for name in cls.model_fields:
                env = os.environ.get(f"{prefix}{name}".upper())
                if env is not None:
                    data[name] = env
        return data

    @property
    def service_database_url(self) -> str:
        """The service's own database: ``<PREFIX>_DATABASE_URL`` as is, or ``DATABASE_URL``
        with the service's database name."""
        prefix = self.env_prefix
        own = os.environ.get(f"{prefix}DATABASE_URL".upper()) if prefix else None
        if own:
            return own
        if not self.database_url:
            raise ValueError(f"{prefix}DATABASE_URL or DATABASE_URL must be set")
        return database_url_for(self.database_url, self.db_name or self.database_name)
