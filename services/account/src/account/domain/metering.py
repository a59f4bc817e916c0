"""Free-user metering (DOMAIN.md section 1, "Free users")."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

FREE_CALLS_PER_CYCLE = 10


def billing_cycle(started_at: datetime, time_zone: str) -> str:
    """The calendar month (``YYYY-MM``) of the call in the account's default time zone."""
    if started_at.tzinfo is None:
        started_at = started_at.replace(tzinfo=UTC)
    local = started_at.astimezone(ZoneInfo(time_zone))
    return f"{local.year:04d}-{local.month:02d}"


def overage_due(calls: int, user_type: str | None) -> bool:
    """A free user with more than 10 calls in a cycle costs one extra user that month."""
    return user_type == "free" and calls > FREE_CALLS_PER_CYCLE
