"""Pure rules of invitations: local times across DST, tokens, links, the email, retries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from invite_scheduler import domain as d

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def test_new_york_local_nine_is_fourteen_utc_in_winter_and_thirteen_in_summer() -> None:
    assert d.local_to_utc("2026-03-07T09:00", "America/New_York") == datetime(
        2026, 3, 7, 14, 0, tzinfo=UTC
    )
    assert d.local_to_utc("2026-03-09T09:00", "America/New_York") == datetime(
        2026, 3, 9, 13, 0, tzinfo=UTC
    )


def test_london_local_nine_moves_with_british_summer_time() -> None:
    assert d.local_to_utc("2026-03-28T09:00", "Europe/London") == datetime(
        2026, 3, 28, 9, 0, tzinfo=UTC
    )
    assert d.local_to_utc("2026-03-30T09:00", "Europe/London") == datetime(
        2026, 3, 30, 8, 0, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("local", "zone"),
    [("2026-03-08T02:30", "America/New_York"), ("2026-03-29T01:15", "Europe/London")],
)
def test_a_time_in_the_spring_forward_gap_is_refused(local: str, zone: str) -> None:
    with pytest.raises(d.ScheduleError) as exc:
        d.local_to_utc(local, zone)
    assert exc.value.field == "send_at" and "does not exist" in exc.value.message


def test_a_repeated_autumn_hour_means_the_earlier_instant() -> None:
    # 01:30 happens twice on 2026-11-01 in New York: 05:30Z (EDT) and 06:30Z (EST)
    assert d.local_to_utc("2026-11-01T01:30", "America/New_York") == datetime(
        2026, 11, 1, 5, 30, tzinfo=UTC
    )
    # 01:30 twice on 2026-10-25 in London: 00:30Z (BST) and 01:30Z (GMT)
    assert d.local_to_utc("2026-10-25T01:30", "Europe/London") == datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )


def test_past_and_too_far_schedules_are_refused() -> None:
    with pytest.raises(d.ScheduleError, match="past"):
        d.plan_schedule("2026-01-10T06:59", "America/New_York", NOW, 366)
    with pytest.raises(d.ScheduleError, match="366 days"):
        d.plan_schedule("2027-06-01T09:00", "UTC", NOW, 366)
    plan = d.plan_schedule("2026-01-10T07:01", "America/New_York", NOW, 366)
    assert plan.send_at == datetime(2026, 1, 10, 12, 1, tzinfo=UTC)
    assert plan.local_send_at == "2026-01-10T07:01:00" and plan.time_zone == "America/New_York"


def test_an_event_schedule_that_has_passed_means_send_now() -> None:
    plan = d.event_schedule("2026-01-01T09:00", "Europe/London", None, NOW)
    assert plan is not None and plan.send_at == NOW and plan.local_send_at == "2026-01-01T09:00:00"


def test_an_event_schedule_in_a_gap_uses_the_instant_identity_computed() -> None:
    hint = datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    plan = d.event_schedule("2026-03-08T02:30", "America/New_York", hint, NOW)
    assert plan is not None and plan.send_at == hint


def test_tokens_are_long_random_and_stored_only_as_their_hash() -> None:
    a, b = d.new_token(), d.new_token()
    assert a != b and len(a) >= 43
    assert d.hash_token(a) == d.hash_token(a) and len(d.hash_token(a)) == 32
    assert a.encode() not in d.hash_token(a)


@pytest.mark.parametrize(
    ("base", "link"),
    [
        ("https://x.example/activate/", "https://x.example/activate/TOK"),
        ("https://x.example/activate", "https://x.example/activate/TOK"),
        ("https://x.example/a?token=", "https://x.example/a?token=TOK"),
        ("https://x.example/a?lang=en", "https://x.example/a?lang=en&token=TOK"),
    ],
)
def test_the_link_ends_with_the_token(base: str, link: str) -> None:
    assert d.activation_link(base, "TOK") == link


def test_the_welcome_email_names_account_user_and_link_and_escapes_html() -> None:
    mail = d.welcome_email(
        to="ada@example.com",
        first_name="Ada",
        last_name="<Lovelace>",
        account_name="Initech & Co",
        link="https://x.example/activate/TOK",
        expires_at=NOW,
        product="Cloud Phone",
    )
    assert "Initech & Co" in mail.subject
    assert "Ada <Lovelace>" in mail.text and "https://x.example/activate/TOK" in mail.text
    assert "Ada &lt;Lovelace&gt;" in mail.html and "Initech &amp; Co" in mail.html
    assert 'href="https://x.example/activate/TOK"' in mail.html


def test_retry_delays_grow_and_then_stay_at_the_last() -> None:
    delays = [1.0, 2.0, 5.0]
    assert [d.retry_delay(n, delays) for n in (1, 2, 3, 4, 9)] == [1.0, 2.0, 5.0, 5.0, 5.0]


def test_4xx_and_no_answer_are_transient_5xx_is_not() -> None:
    assert d.is_transient_smtp(451) and d.is_transient_smtp(None)
    assert not d.is_transient_smtp(550)


def test_a_schedule_a_minute_from_now_in_any_zone_is_accepted() -> None:
    for zone in ("America/New_York", "Europe/London", "Asia/Kolkata", "Australia/Lord_Howe"):
        local = (NOW + timedelta(minutes=1)).astimezone(__import__("zoneinfo").ZoneInfo(zone))
        plan = d.plan_schedule(local.strftime("%Y-%m-%dT%H:%M:%S"), zone, NOW, 366)
        assert plan.send_at == NOW + timedelta(minutes=1)


def test_one_scheduling_horizon_of_90_days_for_identity_and_invites() -> None:
    from identity import domain as identity_domain
    from shared.contracts.invites import SCHEDULE_HORIZON_DAYS

    assert SCHEDULE_HORIZON_DAYS == 90
    assert timedelta(days=SCHEDULE_HORIZON_DAYS) == identity_domain.SCHEDULE_HORIZON
    with pytest.raises(d.ScheduleError, match="90 days"):
        d.plan_schedule(
            (NOW + timedelta(days=91)).strftime("%Y-%m-%dT%H:%M"), "UTC", NOW, SCHEDULE_HORIZON_DAYS
        )
