"""Use cases of the invite scheduler: ``async def (cmd, uow, ...) -> reply``, one module
per use case group: invites (an account's: send, schedule, reschedule, cancel,
resend, get, list), redeem (an activation link), sending (the scheduler's steps:
claim due invites with their tokens recorded, record outcomes, release, expire),
projections (identity's and account's events). ``common`` holds the pieces they share,
the clock among them: ``_now`` here is the one every use case reads. Every name is
re-exported here: ``from invite_scheduler import handlers as h``."""

from __future__ import annotations

from invite_scheduler.handlers.common import (
    EVENT_BY_STATUS,
    SOURCE,
    Wake,
    _cancel,
    _create,
    _invitable_user,
    _now,
    _owned,
    _plan,
    _require_read,
    _state_conflict,
    clock,
    emit,
    to_invite,
)
from invite_scheduler.handlers.invites import (
    cancel_invite,
    get_invite,
    list_invites,
    reschedule_invite,
    resend_invite,
    schedule_invite,
    send_invite,
)
from invite_scheduler.handlers.projections import (
    BadEvent,
    on_account_event,
    on_invite_requested,
    on_invite_requests,
    on_user_removed,
    on_user_snapshot,
    on_user_snapshots,
)
from invite_scheduler.handlers.redeem import _redeem_error, _redeem_once, redeem
from invite_scheduler.handlers.sending import (
    Claimed,
    Outcome,
    claim_due,
    expire_due,
    record_outcomes,
    release,
    seconds_to_next_due,
)

__all__ = [
    "EVENT_BY_STATUS",
    "SOURCE",
    "BadEvent",
    "Claimed",
    "Outcome",
    "Wake",
    "_cancel",
    "_create",
    "_invitable_user",
    "_now",
    "_owned",
    "_plan",
    "_redeem_error",
    "_redeem_once",
    "_require_read",
    "_state_conflict",
    "cancel_invite",
    "claim_due",
    "clock",
    "emit",
    "expire_due",
    "get_invite",
    "list_invites",
    "on_account_event",
    "on_invite_requested",
    "on_invite_requests",
    "on_user_removed",
    "on_user_snapshot",
    "on_user_snapshots",
    "record_outcomes",
    "redeem",
    "release",
    "reschedule_invite",
    "resend_invite",
    "schedule_invite",
    "seconds_to_next_due",
    "send_invite",
    "to_invite",
]
