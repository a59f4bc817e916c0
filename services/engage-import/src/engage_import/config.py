from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from shared.settings import ServiceSettings


class EngageImportConfig(ServiceSettings):
    service_name: ClassVar[str] = "engage-import"
    env_prefix: ClassVar[str] = "ENGAGE_"
    database_name: ClassVar[str] = "engage_import"

    #: Users handled per import transaction (one claim, one batch insert). The
    #: statements of a chunk are set-based, so its cost grows with its size; what a
    #: larger chunk saves is the per-chunk claim, lock and commit.
    import_chunk_size: int = Field(default=1000, ge=1, le=5000)
    #: How often an idle import worker looks for open jobs (seconds).
    import_poll_interval: float = Field(default=0.5, gt=0, le=30)
    #: An item naming a user engage has not heard of yet waits this long from the
    #: import's creation for identity's event (eventual consistency), looked at again
    #: every ``import_unknown_user_retry_seconds``; then identity is asked, and only a
    #: user identity does not have in the account is rejected ``not_found``.
    import_unknown_user_wait_seconds: float = Field(default=10.0, ge=0, le=3600)
    import_unknown_user_retry_seconds: float = Field(default=1.0, gt=0, le=60)
