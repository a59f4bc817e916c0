"""invite-scheduler contract: invites, their schedule in the admin's time zone, redeem."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from shared.contracts import validators as v
from shared.contracts.common import Command, Id, Model, Page, PageRequest

InviteStatus = Literal["Scheduled", "Sent", "Accepted", "Cancelled", "Expired", "Failed"]
INVITE_STATUSES: tuple[str, ...] = (
    "Scheduled",
    "Sent",
    "Accepted",
    "Cancelled",
    "Expired",
    "Failed",
)

SCHEDULE_HORIZON_DAYS = 90
"""How far ahead a welcome email can be scheduled, on every path (identity's
``users.add`` with ``schedule_invite`` and ``invites.v1.schedule``/``.reschedule``)."""

RECOVERY_MAX_ANSWER_FAILURES = 5
"""Wrong answers to the security question a recovery link survives; then it dies."""

_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$")


def local_date_time(value: str) -> str:
    """``YYYY-MM-DDTHH:MM[:SS]`` without offset: a wall-clock time in a named zone."""
    if not _LOCAL.match(value):
        raise ValueError("must be a local date-time 'YYYY-MM-DDTHH:MM[:SS]' without offset")
    try:
        datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"'{value}' is not a real date-time") from exc
    return value


LocalDateTime = Annotated[str, AfterValidator(local_date_time)]
TimeZone = Annotated[str, AfterValidator(v.time_zone)]


class SendInvite(Command):
    account_id: Id
    user_id: Id


class ScheduleInvite(Command):
    account_id: Id
    user_id: Id
    send_at: LocalDateTime
    time_zone: TimeZone


class RescheduleInvite(Command):
    account_id: Id
    invite_id: Id
    send_at: LocalDateTime
    time_zone: TimeZone


class InviteRef(Command):
    account_id: Id
    invite_id: Id


class CancelInvite(InviteRef):
    pass


class ResendInvite(InviteRef):
    pass


class GetInvite(InviteRef):
    pass


class ListInvites(PageRequest):
    account_id: Id
    status: InviteStatus | None = None
    user_id: Id | None = None


class Invite(Model):
    id: str
    account_id: str
    user_id: str
    email: str
    status: InviteStatus
    send_at: datetime
    local_send_at: str | None = None
    time_zone: str | None = None
    sent_at: datetime | None = None
    expires_at: datetime | None = None
    attempts: int = 0
    reason: str | None = None
    created_at: datetime | None = None


class InvitePage(Page[Invite]):
    pass


class RedeemInvite(Command):
    """Internal (identity's ``activation.complete``): consume a token atomically."""

    token: Annotated[str, Field(min_length=1, max_length=512)]
    dry_run: bool = False


class Redeemed(Model):
    invite_id: str
    user_id: str
    account_id: str
    email: str


class InviteEvent(Model):
    """The payload of every ``events.invites.invite.*`` event."""

    invite_id: str
    account_id: str
    user_id: str
    email: str
    status: InviteStatus
    send_at: datetime
    local_send_at: str | None = None
    time_zone: str | None = None
    sent_at: datetime | None = None
    expires_at: datetime | None = None
    attempts: int = 0
    reason: str | None = None


class RedeemRecovery(Command):
    """Internal (identity's ``recovery.complete``): ``check`` a recovery token,
    ``consume`` it (single use), or record a wrong security ``answer`` (``fail``): after
    ``RECOVERY_MAX_ANSWER_FAILURES`` the token dies."""

    token: Annotated[str, Field(min_length=1, max_length=512)]
    action: Literal["check", "consume", "fail"] = "check"


class RecoveryRedeemed(Model):
    recovery_id: str
    user_id: str
    account_id: str
    attempts_left: int
