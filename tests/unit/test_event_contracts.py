"""Issue 11: every consumer reads an event through one path, `Delivery.event()`, which
checks it against the one contract of its type (shared.contracts.event_data) and makes
a bad event poison (dead-lettered at once) instead of a handler's KeyError."""

from __future__ import annotations

from typing import Any

import pytest
from shared.messaging.consumer import Delivery, Poison

from shared import subjects as s


def delivery(subject: str, body: dict[str, Any]) -> Delivery:
    return Delivery(subject, body, {}, "m1", 1)


def removed(**over: Any) -> dict[str, Any]:
    return {"user_id": "usr_1", "account_id": "acc_1", "version": 3} | over


def test_an_event_that_matches_its_contract_is_its_data() -> None:
    d = delivery(s.USER_REMOVED, {"id": "e1", "data": removed()})
    assert d.event() == removed()


def test_an_event_without_data_is_poison() -> None:
    with pytest.raises(Poison, match="without data"):
        delivery(s.USER_REMOVED, {"id": "e1"}).event()


def test_an_event_off_its_contract_is_poison_naming_the_field() -> None:
    with pytest.raises(Poison, match="version"):
        delivery(s.USER_REMOVED, {"id": "e1", "data": removed(version="three")}).event()
    with pytest.raises(Poison, match="user_id"):
        delivery(
            s.USER_REMOVED, {"id": "e1", "data": {"account_id": "acc_1", "version": 1}}
        ).event()


def test_fields_a_consumer_does_not_know_are_kept() -> None:
    d = delivery(s.USER_REMOVED, {"data": removed(later_field=True)})
    assert d.event()["later_field"] is True


def test_an_inbound_message_may_be_the_bare_data() -> None:
    call = {
        "call_id": "c1",
        "account_id": "acc_1",
        "user_id": "usr_1",
        "direction": "outbound",
        "started_at": "2026-11-24T10:00:00Z",
    }
    assert delivery(s.INGEST_CALL_COMPLETED, call).event() == call
    assert delivery(s.INGEST_CALL_COMPLETED, {"id": "e", "data": call}).event() == call
