from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from shared.settings import ServiceSettings


class IdentityConfig(ServiceSettings):
    service_name: ClassVar[str] = "identity"
    env_prefix: ClassVar[str] = "IDENTITY_"
    database_name: ClassVar[str] = "identity"

    token_private_key: str = ""
    # at most 24 h: revocations are kept 25 h (shared.revocations.MAX_AGE_SECONDS)
    session_ttl_seconds: int = Field(default=8 * 3600, ge=60, le=24 * 3600)
    operator_email: str = ""
    operator_password: str = ""
    max_failed_logins: int = Field(default=5, ge=1)
    lockout_seconds: int = Field(default=900, ge=1)
    # threads for argon2/bcrypt: bounds the CPU and memory a flood of sign-ins can take
    hash_threads: int = Field(default=2, ge=1, le=64)
    # a directory request naming an account identity has not heard of yet (its
    # account.created event still on its way) is retried this long after it was
    # published before it fails ``not_found`` (IDENTITY_DIRECTORY_UNKNOWN_ACCOUNT_WAIT_SECONDS)
    directory_unknown_account_wait_seconds: float = Field(default=30.0, ge=0, le=3600)
