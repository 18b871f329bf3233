"""Delivery in each reader's time zone: the wave plan across DST changes and odd offsets,
read through the scheduler's own view of the coming waves under time-machine."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine

from digest.config.load import load_settings
from digest.errors import ConfigError
from digest.pipeline import Pipeline
from digest.waves import runs as wave_runs
from digest.waves.plan import local_instant, plan

HEADER = "email,name,areas,status,subscribed_at,source,timezone\n"
LIST = 'schedule = "0 7 * * 1"          # crontab: Mondays at 07:00\ntimezone = "America/New_York"'


def local_list(project: Path, cron: str, zone: str, readers: dict[str, str], **keys: str) -> Path:
    """The project's list sent in readers' zones on ``cron`` in ``zone``, with ``readers``."""
    config = project / "config.toml"
    text = config.read_text(encoding="utf-8")
    text = text.replace(
        LIST,
        f'schedule = "{cron}"\ntimezone = "{zone}"\ndeliver = "local"'
        + "".join(f'\n{k} = "{v}"' for k, v in keys.items()),
    )
    config.write_text(text, encoding="utf-8")
    rows = "".join(
        f"{email},{email.split('@')[0]},,active,,,{tz}\n" for email, tz in readers.items()
    )
    (project / "subscribers" / "weekly.csv").write_text(HEADER + rows, encoding="utf-8")
    return config


def deliver_locally(project: Path) -> None:
    """The project's list, readers and all, sent in readers' zones from now on."""
    config = project / "config.toml"
    text = config.read_text(encoding="utf-8")
    assert LIST in text, "the project's list is not the one this helper knows"
    config.write_text(text.replace(LIST, LIST + '\ndeliver = "local"'), encoding="utf-8")


def coming(config: Path) -> list[dict[str, object]]:
    """The next period's waves as ``schedule show`` gives them, at the real (travelled) clock."""
    pipeline = Pipeline(load_settings(config))
    pipeline.send("weekly", dry_run=True)  # syncs the roster into the store
    return wave_runs.describe(pipeline, "weekly", pipeline.clock(), count=1)


# (zone, schedule, travel to, the wave's UTC time, its local time): each zone's DST changes
CASES = [
    # New York, March: 02:30 does not exist; sent when the clocks jump, 03:00 EDT
    ("America/New_York", "30 2 * * 0", "2026-03-07T12:00", "2026-03-08T07:00", "03:00:00-04:00"),
    # New York, November: 01:30 happens twice; sent the first time (EDT)
    ("America/New_York", "30 1 * * 0", "2026-10-31T12:00", "2026-11-01T05:30", "01:30:00-04:00"),
    # Berlin, March: 02:30 does not exist
    ("Europe/Berlin", "30 2 * * 0", "2026-03-28T12:00", "2026-03-29T01:00", "03:00:00+02:00"),
    # Berlin, October: 02:30 happens twice
    ("Europe/Berlin", "30 2 * * 0", "2026-10-24T12:00", "2026-10-25T00:30", "02:30:00+02:00"),
    # Sydney, October: 02:30 does not exist (spring forward in the south)
    ("Australia/Sydney", "30 2 * * 0", "2026-10-03T00:00", "2026-10-03T16:00", "03:00:00+11:00"),
    # Sydney, April: 02:30 happens twice
    ("Australia/Sydney", "30 2 * * 0", "2026-04-04T00:00", "2026-04-04T15:30", "02:30:00+11:00"),
    # Kathmandu, +05:45 all year
    ("Asia/Kathmandu", "0 7 * * 1", "2026-03-01T12:00", "2026-03-02T01:15", "07:00:00+05:45"),
    # the date line: Kiritimati (+14) is first to reach Monday 07:00, Pago Pago (-11) last
    ("Pacific/Kiritimati", "0 7 * * 1", "2026-11-28T12:00", "2026-11-29T17:00", "07:00:00+14:00"),
    ("Pacific/Pago_Pago", "0 7 * * 1", "2026-11-28T12:00", "2026-11-30T18:00", "07:00:00-11:00"),
]


@pytest.mark.parametrize(("zone", "cron", "travel", "utc", "local"), CASES)
def test_a_readers_wave_across_dst_and_odd_offsets(
    project: Path, zone: str, cron: str, travel: str, utc: str, local: str
) -> None:
    config = local_list(project, cron, "UTC", {"r@example.org": zone})
    with time_machine.travel(datetime.fromisoformat(travel).replace(tzinfo=UTC), tick=False):
        waves = coming(config)
    mine = [w for w in waves if zone in w["local"]]  # type: ignore[operator]
    assert len(mine) == 1, waves
    (wave,) = mine
    assert wave["utc"] == datetime.fromisoformat(utc).replace(tzinfo=UTC).isoformat()
    assert str(wave["local"][zone]).endswith(local)  # type: ignore[index]
    assert wave["readers"] == 1


def test_a_week_across_the_date_line_in_time_order(project: Path) -> None:
    readers = {
        "kiri@example.org": "Pacific/Kiritimati",
        "tokyo@example.org": "Asia/Tokyo",
        "tokyo2@example.org": "Asia/Tokyo",
        "ktm@example.org": "Asia/Kathmandu",
        "delhi@example.org": "Asia/Kolkata",
        "nyc@example.org": "",  # the list's zone
        "pago@example.org": "Pacific/Pago_Pago",
    }
    config = local_list(project, "0 7 * * 1", "America/New_York", readers)
    with time_machine.travel(datetime(2026, 11, 28, 12, tzinfo=UTC), tick=False):
        waves = coming(config)
    assert [(w["utc"], w["readers"]) for w in waves] == [
        ("2026-11-29T17:00:00+00:00", 1),  # Monday 07:00 in Kiritimati is Sunday in UTC
        ("2026-11-29T22:00:00+00:00", 2),
        ("2026-11-30T01:15:00+00:00", 1),
        ("2026-11-30T01:30:00+00:00", 1),
        ("2026-11-30T12:00:00+00:00", 1),
        ("2026-11-30T18:00:00+00:00", 1),
    ]
    assert [w["closes_content"] for w in waves] == [True] + [False] * 5


def test_nyc_readers_wave_moves_with_dst_but_tokyos_does_not(project: Path) -> None:
    readers = {"nyc@example.org": "America/New_York", "tokyo@example.org": "Asia/Tokyo"}
    config = local_list(project, "0 7 * * 1", "Europe/Berlin", readers)
    seen = {}
    for travel in ("2026-03-01T12:00", "2026-03-12T12:00", "2026-04-01T12:00", "2026-10-28T12:00"):
        with time_machine.travel(datetime.fromisoformat(travel).replace(tzinfo=UTC), tick=False):
            seen[travel] = [w["utc"][11:16] for w in coming(config)]  # type: ignore[index]
    # Tokyo (no DST) stays at 22:00 UTC; New York's 07:00 is 12:00 UTC in winter, 11:00 in
    # summer (from March 8); Berlin's (the list's zone, no reader) 06:00, 05:00 from March 29
    assert seen == {
        "2026-03-01T12:00": ["22:00", "06:00", "12:00"],
        "2026-03-12T12:00": ["22:00", "06:00", "11:00"],
        "2026-04-01T12:00": ["22:00", "05:00", "11:00"],
        "2026-10-28T12:00": ["22:00", "06:00", "12:00"],
    }


def test_same_instant_zones_share_one_wave_and_gaps_pick_the_jump() -> None:
    wall = datetime(2026, 3, 8, 2, 30)
    waves = plan(wall, {"America/New_York": 3, "America/Toronto": 2, "America/Bogota": 1}, "UTC")
    # Toronto and New York jump together: one wave; Bogota (no DST) is 02:30 -05:00
    assert [(w.at.isoformat(), w.zones, w.readers) for w in waves.waves] == [
        ("2026-03-08T02:30:00+00:00", ("UTC",), 0),
        ("2026-03-08T07:00:00+00:00", ("America/New_York", "America/Toronto"), 5),
        ("2026-03-08T07:30:00+00:00", ("America/Bogota",), 1),
    ]
    assert local_instant(datetime(2026, 3, 29, 2, 0), "Europe/Berlin") == datetime(
        2026, 3, 29, 1, 0, tzinfo=UTC
    )
    assert waves.slot("Asia/Tokyo") == waves.close  # earlier than every wave: the first
    assert waves.slot("Pacific/Honolulu") == waves.last  # later than every wave: the last


def test_deliver_is_validated_by_name(project: Path) -> None:
    config = local_list(project, "0 7 * * 1", "UTC", {})
    config.write_text(
        config.read_text(encoding="utf-8").replace('deliver = "local"', 'deliver = "lokal"'),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"deliver: expected 'list' or 'local', got 'lokal'"):
        load_settings(config)
