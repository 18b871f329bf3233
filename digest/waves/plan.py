"""The wave plan of a list sent in each reader's time zone (``deliver = "local"``).

A period's issue goes out when the schedule's wall-clock time (e.g. Monday 07:00) comes in
each reader's zone. Every distinct UTC instant among the readers' zones is one *wave*. The
rules, documented in docs/delivery.md:

- A local time that does not exist (a DST gap) is sent when the clocks jump: 02:30 in a
  02:00→03:00 gap goes at 03:00 local. A local time that happens twice is sent the first time.
- The plan is frozen with the issue; a reader belongs to the first wave at or after their
  zone's instant (the last wave when theirs comes later than every wave). A reader whose zone
  changed after their wave went out is sent with the next wave that runs; the ledger row per
  (issue, subscriber) makes that one copy, never two.

Pure functions only: no store, no clock.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_instant(wall: datetime, zone: str) -> datetime:
    """The UTC instant the naive wall-clock time ``wall`` comes in ``zone``.

    Nonexistent (DST gap): the instant the clocks jump past it. Repeated: the first one.
    """
    tz = _zone(zone)
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first  # exists; fold=0 is the first of two where it repeats
    # In a gap: fold=0 read it with the offset before the jump, fold=1 with the one after;
    # the jump itself lies between the two readings. Find it to the second.
    low = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    high = first
    if low > high:
        low, high = high, low
    before = low.astimezone(tz).utcoffset()
    while high - low > timedelta(seconds=1):
        mid = low + (high - low) / 2
        mid = mid.replace(microsecond=0)
        if mid <= low:
            break
        if mid.astimezone(tz).utcoffset() == before:
            low = mid
        else:
            high = mid
    return high


@dataclass(frozen=True, slots=True)
class Wave:
    """One UTC instant of a period's delivery, the zones that reach the hour then, readers."""

    at: datetime
    zones: tuple[str, ...]
    readers: int = 0

    def local(self, zone: str) -> datetime:
        """This wave's instant on the wall clock of ``zone``."""
        return self.at.astimezone(_zone(zone))


@dataclass(frozen=True, slots=True)
class WavePlan:
    """A period's waves in time order; the issue's content closes at the first one."""

    wall: datetime
    """The schedule's wall-clock time for this period (naive), read in each zone."""
    waves: tuple[Wave, ...]

    @property
    def close(self) -> datetime:
        """When the issue's content closes, and approval is due: the earliest wave."""
        return self.waves[0].at

    @property
    def last(self) -> datetime:
        return self.waves[-1].at

    @property
    def instants(self) -> tuple[datetime, ...]:
        return tuple(w.at for w in self.waves)

    def slot(self, zone: str) -> datetime:
        """The wave a reader in ``zone`` belongs to: the first at or after their instant."""
        return slot_of(self.instants, local_instant(self.wall, zone))

    def wave(self, at: datetime) -> Wave:
        for w in self.waves:
            if w.at == at:
                return w
        raise KeyError(at.isoformat())


def slot_of(instants: Sequence[datetime], at: datetime) -> datetime:
    """The first of the sorted ``instants`` at or after ``at``; the last if none is."""
    i = bisect.bisect_left(instants, at)
    return instants[min(i, len(instants) - 1)]


def plan(wall: datetime, zone_counts: Mapping[str, int], default: str) -> WavePlan:
    """The waves for readers counted by zone; the list's ``default`` zone is always planned.

    ``wall`` is the period's end on the list's wall clock (naive).
    """
    by_instant: dict[datetime, list[str]] = {}
    counts: Counter[datetime] = Counter()
    for zone in sorted({default, *zone_counts}):
        at = local_instant(wall, zone)
        by_instant.setdefault(at, []).append(zone)
        counts[at] += zone_counts.get(zone, 0)
    waves = tuple(Wave(at, tuple(by_instant[at]), counts[at]) for at in sorted(by_instant))
    return WavePlan(wall, waves)


def frozen(
    wall: datetime, instants: Iterable[datetime], zone_counts: Mapping[str, int], default: str
) -> WavePlan:
    """A plan frozen earlier (its instants), with today's readers assigned to its waves."""
    times = tuple(sorted(instants))
    zones: dict[datetime, list[str]] = {t: [] for t in times}
    counts: Counter[datetime] = Counter()
    for zone in sorted({default, *zone_counts}):
        at = slot_of(times, local_instant(wall, zone))
        zones[at].append(zone)
        counts[at] += zone_counts.get(zone, 0)
    return WavePlan(wall, tuple(Wave(t, tuple(zones[t]), counts[t]) for t in times))


def count_zones(zones: Iterable[str | None], default: str) -> Counter[str]:
    """Readers per zone, a reader without one counted in the list's ``default``."""
    return Counter(zone or default for zone in zones)
