from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from identity import domain

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("pin", ["111111", "123456", "987654", "890123", "121212", "123123"])
def test_refuses_guessable_pins(pin: str) -> None:
    assert domain.pin_problems(pin)


@pytest.mark.parametrize("pin", ["12345", "12345678901", "12a456", "١٢٣٤٥٦"])
def test_refuses_pins_of_wrong_shape(pin: str) -> None:
    assert domain.pin_problems(pin)


def test_accepts_a_plain_pin_but_not_the_users_extension() -> None:
    assert domain.pin_problems("480213") == []
    assert domain.pin_problems("480213", "480213")


def test_password_policy_length_blocklist_and_personal_data() -> None:
    kw = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada.l@example.com"}
    assert domain.password_problems("short", **kw)
    assert domain.password_problems("x" * 65, **kw)
    assert domain.password_problems("Password123", **kw)
    assert domain.password_problems("lovelace-rocks", **kw)
    assert domain.password_problems("my-ada.l-pass", **kw)
    assert domain.password_problems("violet-harbour-47", **kw) == []


def test_security_answers_compare_case_insensitively() -> None:
    assert domain.normalize_answer("  Rex  The DOG ") == domain.normalize_answer("rex the dog")
    assert domain.answer_problems("abcd")


def test_schedule_converts_local_time_to_utc() -> None:
    at = domain.schedule_instant("2026-03-02T09:00", "America/New_York", NOW)
    assert at == datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def test_schedule_refuses_a_dst_gap_the_past_and_beyond_the_horizon() -> None:
    with pytest.raises(ValueError, match="does not exist"):
        domain.schedule_instant("2026-03-08T02:30", "America/New_York", NOW)
    with pytest.raises(ValueError, match="past"):
        domain.schedule_instant("2026-02-01T09:00", "America/New_York", NOW)
    with pytest.raises(ValueError, match="days ahead"):
        domain.schedule_instant("2026-08-01T09:00", "America/New_York", NOW)
    with pytest.raises(ValueError, match="without offset"):
        domain.schedule_instant("2026-03-02T09:00+01:00", "America/New_York", NOW)


def test_schedule_takes_the_earlier_instant_of_a_dst_fold() -> None:
    now = datetime(2026, 10, 1, tzinfo=UTC)
    at = domain.schedule_instant("2026-11-01T01:30", "America/New_York", now)
    assert at == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert at - now < domain.SCHEDULE_HORIZON + timedelta(days=1)


def test_extension_numbers_have_the_accounts_length() -> None:
    assert domain.extension_range(4) == (1001, 9999)
    assert domain.extension_problem("123", 4)
    assert domain.extension_problem("0123", 4)
    assert domain.extension_problem("1234", 4) is None


def test_default_role_is_standard_user_international() -> None:
    role = domain.predefined_role(domain.DEFAULT_ROLE)
    assert role is not None and role.international_calling
    assert domain.predefined_role("super admin") is domain.SUPER_ADMIN
