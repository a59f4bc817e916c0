"""Account's and identity's invite projections apply a fetched batch in one statement:
each invite's (or user's) latest event wins, the later one of the batch on equal times,
as one event at a time would."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from account import handlers as account_handlers
from identity import handlers as identity_handlers


class Capture:
    def __init__(self) -> None:
        self.rows: list[Any] = []

    async def upsert_invites(self, rows: list[Any]) -> None:
        self.rows = list(rows)

    async def set_invites(self, rows: list[Any]) -> None:
        self.rows = list(rows)


def ev(invite_id: str, status: str, user_id: str = "usr_1") -> dict[str, Any]:
    return {"invite_id": invite_id, "account_id": "acc_1", "user_id": user_id, "status": status}


T1, T2 = "2026-11-24T10:00:00+00:00", "2026-11-24T10:00:01+00:00"


async def test_account_keeps_each_invites_latest_status_from_a_batch() -> None:
    cap = Capture()
    uow = cast(Any, SimpleNamespace(projections=cap))
    events = [
        (ev("inv_1", "scheduled"), T1),
        (ev("inv_2", "scheduled"), T1),
        (ev("inv_1", "sent"), T2),
        (ev("inv_2", "cancelled"), T1),  # same time, later in the batch: wins
        (ev("inv_1", "scheduled"), T1),  # older than what the batch already has
    ]
    await account_handlers.on_invite_events(events, uow)
    assert {(i, st) for i, _, st, _ in cap.rows} == {("inv_1", "sent"), ("inv_2", "cancelled")}


async def test_identity_keeps_each_users_latest_invite_from_a_batch() -> None:
    cap = Capture()
    uow = cast(Any, SimpleNamespace(users=cap))
    events = [
        (ev("inv_1", "scheduled", "usr_1"), T1),
        (ev("inv_2", "sent", "usr_2"), T2),
        (ev("inv_1", "sent", "usr_1"), T2),
        (ev("inv_2", "scheduled", "usr_2"), T1),
    ]
    await identity_handlers.project_invites(events, uow)
    got = {u: (inv["invite_id"], inv["status"], at) for u, inv, at in cap.rows}
    assert got == {"usr_1": ("inv_1", "sent", T2), "usr_2": ("inv_2", "sent", T2)}
