from __future__ import annotations

from typing import ClassVar

from shared.settings import ServiceSettings


class InviteSchedulerConfig(ServiceSettings):
    service_name: ClassVar[str] = "invite-scheduler"
    env_prefix: ClassVar[str] = "INVITES_"
    database_name: ClassVar[str] = "invite_scheduler"
