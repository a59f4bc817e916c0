"""Base of every service's settings (pydantic-settings).

Shared variables (``NATS_URL``, ``DATABASE_URL``, ``TOKEN_PUBLIC_KEY`` ...) are read
unprefixed; each service may override any of them with its own prefix, e.g.
``IDENTITY_REQUEST_TIMEOUT``. Both are pydantic-settings sources (the prefixed one
first); arguments win over both. ``<PREFIX>DATABASE_URL`` is the service's own
database as is, where ``DATABASE_URL`` names a server on which each service has its
database (``own_database_url``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from shared.db import database_url_for
from shared.messaging.streams import StreamLimits


def nats_auth_kwargs(
    user: str = "", password: str = "", creds: str = "", inbox_prefix: str = ""
) -> dict[str, Any]:
    """``nats.connect`` keyword arguments for one NATS user (empty values left out)."""
    kw: dict[str, Any] = {}
    if creds:
        kw["user_credentials"] = creds
    elif user:
        kw["user"] = user
        kw["password"] = password
    if inbox_prefix:
        kw["inbox_prefix"] = inbox_prefix
    return kw


def nats_env_kwargs(prefix: str = "", environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The same from ``<prefix>NATS_CREDS`` / ``NATS_USER`` / ``NATS_PASSWORD`` /
    ``NATS_INBOX_PREFIX`` (CONTRACT.md "Connecting")."""
    env = os.environ if environ is None else environ
    return nats_auth_kwargs(
        env.get(f"{prefix}NATS_USER", ""),
        env.get(f"{prefix}NATS_PASSWORD", ""),
        env.get(f"{prefix}NATS_CREDS", ""),
        env.get(f"{prefix}NATS_INBOX_PREFIX", ""),
    )


class PrefixedEnvSource(EnvSettingsSource):
    """``<PREFIX>NAME`` for every field; ``<PREFIX>DATABASE_URL`` fills
    ``own_database_url`` (the service's own database, used as is)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if field_name == "database_url":
            return None, field_name, False
        if field_name == "own_database_url":
            value, _, complex_ = super().get_field_value(field, "database_url")
            return value, field_name, complex_
        return super().get_field_value(field, field_name)


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", env_prefix="")

    service_name: ClassVar[str] = "service"
    env_prefix: ClassVar[str] = ""
    database_name: ClassVar[str] = "service"

    nats_url: str = "nats://127.0.0.1:4222"
    # the service's own NATS user (``<PREFIX>_NATS_USER`` ...); see shared.natsconf
    nats_user: str = ""
    nats_password: str = ""
    nats_creds: str = ""  # path to a NATS credentials file instead of user/password
    nats_inbox_prefix: str = "_INBOX"
    database_url: str = ""
    own_database_url: str = Field(default="", exclude=True)
    """From ``<PREFIX>DATABASE_URL`` only (see :class:`PrefixedEnvSource`)."""
    token_public_key: str = ""
    log_level: str = "INFO"
    version: str = "0.1.0"
    migrate_on_start: bool = True
    outbox_batch: int = Field(default=500, ge=1, le=5000)
    consumer_max_deliver: int = Field(default=10, ge=1)
    request_timeout: float = Field(default=10.0, gt=0, le=300)
    """Every request one service makes to another waits this long for the answer."""
    internal_key: str = ""
    # tokens are refused when revocations are not known to be this fresh (docs/security.md)
    revocation_max_lag_seconds: float = Field(default=1.0, gt=0, le=60)
    db_name: str = ""
    # Unauthenticated requests (sign-in, activation): how many run at once, how many
    # more may wait (any beyond are refused at once), and the per-key attempt rate.
    rpc_public_concurrency: int = Field(default=8, ge=1, le=1024)
    rpc_public_queue: int = Field(default=128, ge=0, le=100_000)
    rpc_throttle_rate: float = Field(default=1.0, gt=0)
    rpc_throttle_burst: float = Field(default=10.0, ge=1)
    # Limits of the streams this service owns (docs/reliability.md, "Streams and
    # consumers"): unset means "the code's default when creating, else keep what the
    # server has"; set means "apply at every start".
    stream_replicas: int | None = Field(default=None, ge=1, le=5)
    stream_max_age_seconds: float | None = Field(default=None, ge=0)
    stream_max_bytes: int | None = Field(default=None, ge=-1)
    streams: dict[str, StreamLimits] = Field(default_factory=dict)
    """Per stream, over the ``stream_*`` values: ``STREAMS='{"EVENTS_ACCOUNT":
    {"replicas": 3, "max_age_seconds": 86400, "max_bytes": 1073741824}}'``."""

    @field_validator("streams", mode="before")
    @classmethod
    def _streams_json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    def stream_limits(self, stream: str) -> StreamLimits:
        """What configuration sets for ``stream``."""
        base = StreamLimits(
            replicas=self.stream_replicas,
            max_age_seconds=self.stream_max_age_seconds,
            max_bytes=self.stream_max_bytes,
        )
        return self.streams.get(stream, StreamLimits()).over(base)

    # HTTP /metrics, /healthz, /readyz (shared.observability); 0 = no HTTP server
    metrics_port: int = Field(default=0, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    metrics_refresh_seconds: float = Field(default=15.0, gt=0)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then ``<PREFIX>NAME``, then ``NAME``."""
        if not cls.env_prefix:
            return init_settings, env_settings, dotenv_settings, file_secret_settings
        prefixed = PrefixedEnvSource(settings_cls, env_prefix=cls.env_prefix)
        return init_settings, prefixed, env_settings, dotenv_settings, file_secret_settings

    def nats_connect_kwargs(self) -> dict[str, Any]:
        """Authentication and inbox prefix for ``nats.connect`` (any connection the
        service opens)."""
        return nats_auth_kwargs(
            self.nats_user, self.nats_password, self.nats_creds, self.nats_inbox_prefix
        )

    @property
    def service_database_url(self) -> str:
        """The service's own database: ``<PREFIX>_DATABASE_URL`` as is, or ``DATABASE_URL``
        with the service's database name."""
        if self.own_database_url:
            return self.own_database_url
        if not self.database_url:
            raise ValueError(f"{self.env_prefix}DATABASE_URL or DATABASE_URL must be set")
        return database_url_for(self.database_url, self.db_name or self.database_name)
