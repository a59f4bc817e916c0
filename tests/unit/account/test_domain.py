from __future__ import annotations

import random
from datetime import UTC, datetime

import phonenumbers
import pytest
from account import domain
from shared.errors import Conflict, ValidationFailed


def test_billing_cycle_is_the_calendar_month_in_the_accounts_zone() -> None:
    late_may_utc = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
    assert domain.billing_cycle(late_may_utc, "America/New_York") == "2026-05"
    assert domain.billing_cycle(late_may_utc, "Europe/London") == "2026-06"


def test_only_a_free_user_past_ten_calls_is_due_an_overage() -> None:
    assert not domain.overage_due(10, "free")
    assert domain.overage_due(11, "free")
    assert not domain.overage_due(50, "standard")
    assert not domain.overage_due(50, None)


def test_settings_need_an_available_agent_state_and_unique_names() -> None:
    base = domain.default_settings("US")
    with pytest.raises(ValidationFailed):
        domain.merge_settings(
            base, {"agent_states": [{"name": "Break", "counts_as_available": False}]}
        )
    with pytest.raises(ValidationFailed):
        domain.merge_settings(
            base,
            {"agent_states": [{"name": "On", "counts_as_available": True}, {"name": "on"}]},
        )
    merged = domain.merge_settings(base, {"international_calling": True})
    assert merged["international_calling"] and merged["require_unique_email"]


def test_closed_is_final_and_suspension_needs_a_reason() -> None:
    with pytest.raises(Conflict):
        domain.check_status_change("Closed", "Active", None)
    with pytest.raises(ValidationFailed):
        domain.check_status_change("Active", "Suspended", " ")
    domain.check_status_change("Suspended", "Active", None)


def test_prices_follow_the_accounts_currency() -> None:
    assert domain.price("GB", "license:standard") == (2500, "GBP")
    assert domain.price("US", "number") == (500, "USD")
    assert domain.price("BR", "number")[1] == "USD"
    assert domain.money(23200) == "232.00"


@pytest.mark.parametrize("country", ["US", "GB", "FR", "DE", "AU", "CA"])
def test_generated_numbers_are_valid_e164_of_the_country(country: str) -> None:
    nums = domain.number_candidates(country, 5, None, random.Random(7))
    assert len(set(nums)) == 5
    for n in nums:
        assert phonenumbers.is_valid_number_for_region(phonenumbers.parse(n), country)


def test_an_impossible_area_code_is_a_validation_error() -> None:
    with pytest.raises(ValidationFailed):
        domain.number_candidates("US", 1, "000", random.Random(1))


def test_service_status_summarises_what_the_account_service_knows() -> None:
    assert domain.service_status("Closed", 5, 0) == "closed"
    assert domain.service_status("Suspended", 5, 0) == "suspended"
    assert domain.service_status("Active", 0, 0) == "not_set_up"
    assert domain.service_status("Active", 3, 1) == "onboarding"
    assert domain.service_status("Active", 3, 0) == "operational"


def test_link_codes_are_stored_as_a_hash() -> None:
    code = domain.new_link_code()
    assert len(code) >= 32 and domain.hash_link_code(code) != code
    assert domain.hash_link_code(code) == domain.hash_link_code(code)
