from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from shared.settings import ServiceSettings


class InviteSchedulerConfig(ServiceSettings):
    service_name: ClassVar[str] = "invite-scheduler"
    env_prefix: ClassVar[str] = "INVITES_"
    database_name: ClassVar[str] = "invite_scheduler"

    # SMTP delivery
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_timeout: float = Field(default=10.0, gt=0)
    smtp_pool_size: int = Field(default=20, ge=1, le=200)
    mail_from: str = "no-reply@phone.example.com"
    product_name: str = "Cloud Phone"

    # Activation links
    invite_link_base_url: str = "http://127.0.0.1:8080/activate/"
    invite_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=1)
    invite_token_secret: str = ""
    """HMAC key the activation tokens are derived from (``INVITES_INVITE_TOKEN_SECRET``
    or ``INVITE_TOKEN_SECRET``): a mail re-sent after a crash carries the same link.
    Unset: derived from ``INTERNAL_KEY``; both unset: a random key per process (a
    re-sent mail then carries a new link; the first one still works)."""

    # Password recovery links (identity's recovery.start)
    recovery_link_base_url: str = "http://127.0.0.1:8080/recover/"
    recovery_ttl_seconds: int = Field(default=3600, ge=60)

    # Scheduler
    scheduler_enabled: bool = True
    # 500, not 200: fewer claims and larger group commits in a burst (20,000 due at
    # once: 18.1 to 22.0 s against 21.4 to 23.7, docs/benchmarks.md); 1,000 was slower
    claim_batch: int = Field(default=500, ge=1, le=5000)
    send_concurrency: int = Field(default=50, ge=1, le=500)
    send_lease_seconds: float = Field(default=60.0, gt=0)
    idle_poll_seconds: float = Field(default=0.5, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    retry_delays: list[float] = Field(default_factory=lambda: [1.0, 2.0, 5.0, 15.0, 60.0])
    expiry_sweep_seconds: float = Field(default=30.0, gt=0)
