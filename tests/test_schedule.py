from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from digest.periods import crontab_days, next_fires, parse_crontab, period_at

NY = ZoneInfo("America/New_York")


def test_monday_means_monday_in_the_crontab_sense() -> None:
    trigger = parse_crontab("0 7 * * 1", "America/New_York")
    fires = next_fires(trigger, datetime(2026, 11, 27, 12, 0, tzinfo=NY), 3)
    assert [f.strftime("%a %H:%M") for f in fires] == ["Mon 07:00"] * 3
    assert fires[0] == datetime(2026, 11, 30, 7, 0, tzinfo=NY)


@pytest.mark.parametrize(
    ("field", "days"),
    [
        ("0", [0]),
        ("7", [0]),
        ("1-5", [1, 2, 3, 4, 5]),
        ("5-7", [0, 5, 6]),
        ("mon,wed,fri", [1, 3, 5]),
        ("*/2", [0, 2, 4, 6]),
        ("SUN", [0]),
    ],
)
def test_day_of_week_field(field: str, days: list[int]) -> None:
    assert crontab_days(field, field) == days


def test_sunday_as_0_and_7_fire_on_sunday() -> None:
    for expr in ("30 6 * * 0", "30 6 * * 7", "@weekly"):
        (fire,) = next_fires(parse_crontab(expr, "UTC"), datetime(2026, 11, 27, tzinfo=NY), 1)
        assert fire.strftime("%a") == "Sun"


def test_day_of_month_or_day_of_week_like_cron() -> None:
    trigger = parse_crontab("0 9 1 * 1", "UTC")
    fires = next_fires(trigger, datetime(2026, 11, 27, tzinfo=ZoneInfo("UTC")), 3)
    assert [f.date().isoformat() for f in fires] == ["2026-11-30", "2026-12-01", "2026-12-07"]


@pytest.mark.parametrize(
    "expr", ["every monday", "0 7 * *", "0 7 * * 8", "0 7 * * 5-1", "61 7 * * 1"]
)
def test_bad_expressions(expr: str) -> None:
    with pytest.raises(ValueError, match="schedule"):
        parse_crontab(expr, "UTC")


def test_period_is_previous_fire_to_next_fire() -> None:
    trigger = parse_crontab("0 7 * * 1", "America/New_York")
    window = period_at(trigger, datetime(2026, 11, 27, 12, 0, tzinfo=NY))
    assert window.start == datetime(2026, 11, 23, 7, 0, tzinfo=NY)
    assert window.end == datetime(2026, 11, 30, 7, 0, tzinfo=NY)
    # a run exactly at fire time belongs to the period that ends then
    assert period_at(trigger, window.end) == window
    assert period_at(trigger, window.end + timedelta(seconds=1)).start == window.end


def test_period_across_dst_change_is_one_week_of_wall_time() -> None:
    trigger = parse_crontab("0 7 * * 1", "America/New_York")
    window = period_at(trigger, datetime(2026, 10, 29, 12, 0, tzinfo=NY))  # DST ends Nov 1
    assert window.start.astimezone(NY).hour == 7 and window.end.astimezone(NY).hour == 7
    utc = ZoneInfo("UTC")
    assert window.end.astimezone(utc) - window.start.astimezone(utc) == timedelta(days=7, hours=1)


UTC_ = ZoneInfo("UTC")


@pytest.mark.parametrize(
    ("tz", "fall_back_utc"),
    [("America/New_York", datetime(2026, 11, 1, 5, 30, tzinfo=UTC_)),
     ("Europe/Berlin", datetime(2026, 10, 25, 0, 30, tzinfo=UTC_))],
)  # fmt: skip
def test_fall_back_hour_fires_once_per_period(tz: str, fall_back_utc: datetime) -> None:
    """01:30 (NY) / 02:30 (Berlin) happen twice on fall-back night: one run, one period."""
    local = fall_back_utc.astimezone(ZoneInfo(tz))
    trigger = parse_crontab(f"30 {local.hour} * * *", tz)
    fires = next_fires(trigger, fall_back_utc - timedelta(days=1, minutes=1), 3)
    gaps = [b.astimezone(UTC_) - a.astimezone(UTC_) for a, b in itertools.pairwise(fires)]
    assert fires[1].astimezone(UTC_) == fall_back_utc
    assert gaps == [timedelta(hours=24), timedelta(hours=25)]
    repeated = fall_back_utc + timedelta(hours=1)  # APScheduler's second firing
    assert period_at(trigger, repeated) == period_at(trigger, fall_back_utc)
    later = period_at(trigger, fall_back_utc + timedelta(minutes=5))
    assert later.start.astimezone(UTC_) == fall_back_utc


@pytest.mark.parametrize(
    ("tz", "day"),
    [("America/New_York", datetime(2026, 3, 8)), ("Europe/Berlin", datetime(2026, 3, 29))],
)
def test_spring_forward_skipped_hour_still_fires_once(tz: str, day: datetime) -> None:
    zone = ZoneInfo(tz)
    hour = 2
    trigger = parse_crontab(f"30 {hour} * * *", tz)
    fires = next_fires(trigger, (day - timedelta(hours=12)).replace(tzinfo=zone), 3)
    assert [f.astimezone(zone).day for f in fires] == [day.day, day.day + 1, day.day + 2]
    gaps = [b.astimezone(UTC_) - a.astimezone(UTC_) for a, b in itertools.pairwise(fires)]
    assert all(timedelta(hours=22) <= g <= timedelta(hours=24) for g in gaps)


def test_period_of_a_seconds_schedule_is_found_in_a_few_steps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fixed two-day look-back walked 86,400 fires of ``*/2 * * * * *`` per period, so a
    scheduler catching up on such a schedule ran for many minutes on a busy machine."""
    trigger = parse_crontab("*/2 * * * * *", "UTC")
    asked = itertools.count()
    real = type(trigger).get_next_fire_time

    def counted(self: Any, previous: datetime | None, now: datetime) -> datetime | None:
        next(asked)
        return real(self, previous, now)

    monkeypatch.setattr(type(trigger), "get_next_fire_time", counted)
    at = datetime(2026, 12, 2, 6, 0, 1, tzinfo=ZoneInfo("UTC"))
    window = period_at(trigger, at)
    assert (window.start, window.end) == (at - timedelta(seconds=1), at + timedelta(seconds=1))
    assert next(asked) < 100
