"""Scheduling in the admin's time zone, across the next DST changes of New York and
London (found from today, so the dates are always in the future).

Invites are scheduled at most 90 days ahead (shared.contracts.invites), and for a
quarter of the year no zone changes its clocks within 90 days: the scheduler's clock
is then moved to a month before the change for the test (``clock_before``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from invite_scheduler import handlers as invite_handlers

from shared import subjects as s
from tests.integration.invites.support import new_world
from tests.support.system import System


def next_change(zone: str, spring: bool) -> date:
    """The next day on which ``zone`` moves its clocks forward (spring) or back."""
    tz = ZoneInfo(zone)
    day = datetime.now(UTC).date() + timedelta(days=2)
    for _ in range(370):
        before = datetime(day.year, day.month, day.day, 12, tzinfo=tz).utcoffset()
        nxt = day + timedelta(days=1)
        after = datetime(nxt.year, nxt.month, nxt.day, 12, tzinfo=tz).utcoffset()
        assert before is not None and after is not None
        if (after > before) if spring else (after < before):
            return nxt
        day = nxt
    raise AssertionError("no DST change within a year")


def clock_before(monkeypatch: pytest.MonkeyPatch, day: date) -> None:
    """The invite scheduler's "now" at least 30 days before ``day`` (moved only forward)."""
    offset = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(days=30)
    shift = offset - datetime.now(UTC)
    if shift > timedelta(0):
        monkeypatch.setattr(invite_handlers, "_now", lambda: datetime.now(UTC) + shift)


def odd_local_time(zone: str, day: date, gap: bool) -> str:
    """A wall time on ``day`` that does not exist (gap) or exists twice (fold)."""
    tz = ZoneInfo(zone)
    for minute in range(0, 24 * 60, 15):
        naive = datetime(day.year, day.month, day.day) + timedelta(minutes=minute)
        early = naive.replace(tzinfo=tz, fold=0)
        late = naive.replace(tzinfo=tz, fold=1)
        roundtrip = early.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
        if gap and roundtrip != naive:
            return naive.strftime("%Y-%m-%dT%H:%M")
        if not gap and roundtrip == naive and early.utcoffset() != late.utcoffset():
            return naive.strftime("%Y-%m-%dT%H:%M")
    raise AssertionError("no such time")


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/London"])
async def test_nine_oclock_local_stays_nine_oclock_across_the_dst_change(
    system: System, zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = await new_world(system)
    for spring in (True, False):
        change = next_change(zone, spring)
        monkeypatch.undo()
        clock_before(monkeypatch, change)
        sends = []
        for day in (change - timedelta(days=1), change + timedelta(days=1)):
            user_id, _ = await w.add_user()
            local = f"{day.isoformat()}T09:00"
            inv = await w.call(
                s.INVITES_SCHEDULE, {"user_id": user_id, "send_at": local, "time_zone": zone}
            )
            assert inv["local_send_at"] == local + ":00" and inv["time_zone"] == zone
            expected = datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
            assert datetime.fromisoformat(inv["send_at"]) == expected
            sends.append(datetime.fromisoformat(inv["send_at"]))
        # the same wall-clock time is one hour apart from 48 h in UTC: 47 h in spring, 49 in autumn
        assert sends[1] - sends[0] == timedelta(hours=47 if spring else 49)


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/London"])
async def test_a_time_skipped_by_the_spring_change_is_refused(
    system: System, zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = await new_world(system)
    user_id, _ = await w.add_user()
    clock_before(monkeypatch, next_change(zone, spring=True))
    local = odd_local_time(zone, next_change(zone, spring=True), gap=True)
    err = await w.error(
        "validation_failed",
        s.INVITES_SCHEDULE,
        {"user_id": user_id, "send_at": local, "time_zone": zone},
    )
    assert err.details["errors"][0]["field"] == "send_at"
    assert "does not exist" in err.details["errors"][0]["message"]


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/London"])
async def test_a_time_repeated_by_the_autumn_change_means_the_earlier_instant(
    system: System, zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = await new_world(system)
    user_id, _ = await w.add_user()
    clock_before(monkeypatch, next_change(zone, spring=False))
    local = odd_local_time(zone, next_change(zone, spring=False), gap=False)
    inv = await w.call(
        s.INVITES_SCHEDULE, {"user_id": user_id, "send_at": local, "time_zone": zone}
    )
    naive = datetime.fromisoformat(local)
    earlier = naive.replace(tzinfo=ZoneInfo(zone), fold=0).astimezone(UTC)
    later = naive.replace(tzinfo=ZoneInfo(zone), fold=1).astimezone(UTC)
    assert later - earlier == timedelta(hours=1)
    assert datetime.fromisoformat(inv["send_at"]) == earlier


async def test_past_times_unknown_zones_and_malformed_times_name_their_field(
    system: System,
) -> None:
    w = await new_world(system)
    user_id, _ = await w.add_user()
    yesterday = (datetime.now(ZoneInfo("Europe/London")) - timedelta(days=1)).strftime(
        "%Y-%m-%dT%H:%M"
    )
    cases = [
        ({"send_at": yesterday, "time_zone": "Europe/London"}, "send_at"),
        ({"send_at": "2027-01-05T09:00", "time_zone": "Mars/Olympus"}, "time_zone"),
        ({"send_at": "2027-01-05T09:00Z", "time_zone": "UTC"}, "send_at"),
        ({"send_at": "2027-02-30T09:00", "time_zone": "UTC"}, "send_at"),
    ]
    for payload, field in cases:
        err = await w.error("validation_failed", s.INVITES_SCHEDULE, {"user_id": user_id} | payload)
        assert [e["field"] for e in err.details["errors"]] == [field], payload
    assert (await w.call(s.INVITES_LIST, {}))["items"] == []
