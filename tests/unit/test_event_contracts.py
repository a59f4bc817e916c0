"""Issue 11: every consumer reads an event through one path, `Delivery.event()`, which
parses it once into the one contract model of its type (shared.contracts.event_data),
hands the consumer that typed model, and makes a bad event poison (dead-lettered at
once) instead of a handler's KeyError."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from shared.contracts.event_data import (
    EVENT_DATA,
    CallCompleted,
    SiteCreated,
    UserRemoved,
    UserSnapshot,
)
from shared.messaging.consumer import Delivery, Poison
from shared.messaging.outbox import make_event

from shared import subjects as s
from tests.support.events import user_snapshot


def delivery(subject: str, body: dict[str, Any]) -> Delivery:
    return Delivery(subject, body, {}, "m1", 1)


def removed(**over: Any) -> dict[str, Any]:
    return {"user_id": "usr_1", "account_id": "acc_1", "version": 3} | over


def test_an_event_that_matches_its_contract_is_its_contract_model() -> None:
    d = delivery(s.USER_REMOVED, {"id": "e1", "data": removed()})
    ev = d.event(UserRemoved)
    assert type(ev) is UserRemoved
    assert (ev.user_id, ev.account_id, ev.version) == ("usr_1", "acc_1", 3)
    assert ev.released.license is None  # the contract's defaults


def test_a_consumer_may_ask_for_a_base_of_the_contract() -> None:
    snapshot = user_snapshot()
    ev = delivery(s.USER_UPDATED, {"data": snapshot}).event(UserSnapshot)
    assert type(ev) is EVENT_DATA[s.USER_UPDATED] and ev.email == "ada@example.com"


def test_an_event_of_another_contract_than_expected_is_poison() -> None:
    with pytest.raises(Poison, match="UserSnapshot"):
        delivery(s.USER_REMOVED, {"data": removed()}).event(UserSnapshot)
    with pytest.raises(Poison, match="no UserRemoved contract"):
        delivery("events.nobody.thing.happened", {"data": removed()}).event(UserRemoved)


def test_an_event_without_data_is_poison() -> None:
    with pytest.raises(Poison, match="without data"):
        delivery(s.USER_REMOVED, {"id": "e1"}).event(UserRemoved)


def test_an_event_off_its_contract_is_poison_naming_the_field() -> None:
    with pytest.raises(Poison, match="version"):
        delivery(s.USER_REMOVED, {"id": "e1", "data": removed(version="three")}).event(UserRemoved)
    with pytest.raises(Poison, match="user_id"):
        delivery(s.USER_REMOVED, {"id": "e1", "data": {"account_id": "acc_1", "version": 1}}).event(
            UserRemoved
        )


def test_fields_a_consumer_does_not_know_are_kept() -> None:
    d = delivery(s.USER_REMOVED, {"data": removed(later_field=True)})
    assert (d.event(UserRemoved).model_extra or {})["later_field"] is True


def test_an_inbound_message_may_be_the_bare_data() -> None:
    call = {
        "call_id": "c1",
        "account_id": "acc_1",
        "user_id": "usr_1",
        "direction": "outbound",
        "started_at": "2026-11-24T10:00:00Z",
    }
    bare = delivery(s.INGEST_CALL_COMPLETED, call).event(CallCompleted)
    wrapped = delivery(s.INGEST_CALL_COMPLETED, {"id": "e", "data": call}).event(CallCompleted)
    assert bare.model_dump() == wrapped.model_dump() == call


def _matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: ``*`` is one token, ``>`` the rest."""
    want, got = pattern.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(got) > i
        if i >= len(got) or token not in ("*", got[i]):
            return False
    return len(want) == len(got)


def test_every_event_a_consumer_subscribes_to_has_its_one_contract_model() -> None:
    from shared.asyncapi import _event_subjects, _services

    known = _event_subjects()
    for service, svc in _services():
        for sub in svc.subscriptions:
            for pattern in sub.filter_subjects:
                subjects = [x for x in known if _matches(pattern, x)]
                assert subjects, f"{service} {sub.name}: {pattern} matches no known event"
                missing = [x for x in subjects if x not in EVENT_DATA]
                assert not missing, f"{service} {sub.name}: no contract model for {missing}"


def test_a_producer_emits_through_the_same_contract_model() -> None:
    ev = make_event("identity", s.USER_REMOVED, UserRemoved.model_validate(removed()))
    parsed = delivery(s.USER_REMOVED, ev.event.model_dump(mode="json")).event(UserRemoved)
    assert (parsed.user_id, parsed.version) == ("usr_1", 3)
    assert make_event("identity", s.USER_REMOVED, removed()).event.data == removed()


def test_a_producer_event_that_breaks_its_contract_raises_before_it_is_written() -> None:
    with pytest.raises(ValidationError):
        make_event("identity", s.USER_REMOVED, removed(version="three"))
    with pytest.raises(TypeError):
        site = SiteCreated(account_id="acc_1", site_id="sit_1", name="HQ", time_zone="UTC")
        make_event("identity", s.USER_REMOVED, site)
