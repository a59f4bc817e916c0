"""Account's and identity's invite projections apply a fetched batch in one statement:
each invite's (or user's) latest event wins, the later one of the batch on equal times,
as one event at a time would."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from account import handlers as account_handlers
from identity import handlers as identity_handlers
from shared.contracts.invites import InviteEvent
from shared.messaging.consumer import Delivery

from shared import subjects as s


class Capture:
    def __init__(self) -> None:
        self.rows: list[Any] = []

    async def upsert_invites(self, rows: list[Any]) -> None:
        self.rows = list(rows)

    async def set_invites(self, rows: list[Any]) -> None:
        self.rows = list(rows)


def ev(invite_id: str, status: str, user_id: str = "usr_1") -> InviteEvent:
    """An invite event as the consumers get it: parsed by the one path into its contract."""
    data = {
        "invite_id": invite_id,
        "account_id": "acc_1",
        "user_id": user_id,
        "email": f"{user_id}@example.com",
        "status": status,
        "send_at": "2026-11-25T09:00:00Z",
    }
    return Delivery(s.INVITE_SCHEDULED, {"data": data}, {}, "m1", 1).event(InviteEvent)


T1, T2 = "2026-11-24T10:00:00+00:00", "2026-11-24T10:00:01+00:00"


async def test_account_keeps_each_invites_latest_status_from_a_batch() -> None:
    cap = Capture()
    uow = cast(Any, SimpleNamespace(projections=cap))
    events = [
        (ev("inv_1", "Scheduled"), T1),
        (ev("inv_2", "Scheduled"), T1),
        (ev("inv_1", "Sent"), T2),
        (ev("inv_2", "Cancelled"), T1),  # same time, later in the batch: wins
        (ev("inv_1", "Scheduled"), T1),  # older than what the batch already has
    ]
    await account_handlers.on_invite_events(events, uow)
    assert {(i, st) for i, _, st, _ in cap.rows} == {("inv_1", "Sent"), ("inv_2", "Cancelled")}


async def test_identity_keeps_each_users_latest_invite_from_a_batch() -> None:
    cap = Capture()
    uow = cast(Any, SimpleNamespace(users=cap))
    events = [
        (ev("inv_1", "Scheduled", "usr_1"), T1),
        (ev("inv_2", "Sent", "usr_2"), T2),
        (ev("inv_1", "Sent", "usr_1"), T2),
        (ev("inv_2", "Scheduled", "usr_2"), T1),
    ]
    await identity_handlers.project_invites(events, uow)
    got = {u: (inv["invite_id"], inv["status"], at) for u, inv, at in cap.rows}
    assert got == {"usr_1": ("inv_1", "Sent", T2), "usr_2": ("inv_2", "Sent", T2)}
    # send_at shown as the producer wrote it (a JSON string, not the parsed datetime)
    assert {inv["send_at"] for _, inv, _ in cap.rows} == {"2026-11-25T09:00:00Z"}
