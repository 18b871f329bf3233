"""A list sent in each reader's time zone: its period's wave plan from the store, which
readers a wave sends to, and which waves are due (see ``plan.py`` for the rules)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ..config import Settings
from ..models import IssueRow, Window
from ..periods import Effective, effective, next_fires
from ..store import Store
from ..store.zones import Placing
from .plan import WavePlan, frozen, plan

MAX_PERIODS = 200
"""Periods looked at for due waves in one pass (an hourly schedule's waves span about 54)."""


def wall_of(sched: Effective, window: Window) -> datetime:
    """The period's end on the list's wall clock: the time read in every reader's zone."""
    return window.end.astimezone(ZoneInfo(sched.timezone)).replace(tzinfo=None)


def plan_for(
    settings: Settings,
    store: Store,
    list_name: str,
    window: Window,
    counts: dict[str, int] | None = None,
    stored: IssueRow | None = None,
) -> WavePlan:
    """The period's waves: frozen with its issue if it is stored, else from the roster now."""
    sched = effective(settings, store.runs, list_name)
    list_id = store.subscribers.list_id(sched.list_name)
    if counts is None:
        counts = readers_by_zone(store, list_id, sched.timezone)
    wall = wall_of(sched, window)
    issue = stored or store.issues.for_period(list_id, window)
    if issue is not None and issue.waves:
        return frozen(wall, issue.waves, counts, sched.timezone)
    return plan(wall, counts, sched.timezone)


def readers_by_zone(store: Store, list_id: int, default: str) -> dict[str, int]:
    """Active readers per zone (one GROUP BY), readers without a zone in ``default``."""
    out: dict[str, int] = {}
    for zone, n in store.subscribers.zone_counts(list_id).items():
        key = zone or default
        out[key] = out.get(key, 0) + n
    return out


def content_window(store: Store, list_id: int, window: Window, waves: WavePlan) -> Window:
    """What the period's issue holds: posts after the previous issue closed, up to the first
    wave (posts after it go to the next issue)."""
    previous = store.issues.latest(list_id)
    if previous is not None and previous.window.start < window.start:
        start = min(previous.waves) if previous.waves else previous.window.end
    else:
        start = window.start + (waves.close - window.end)
    return Window(min(start, waves.close), waves.close)


def placing_for(
    waves: WavePlan, wave: datetime, outcomes: dict[datetime, str], default: str
) -> Placing:
    """Where one wave's run puts readers' ledger rows, and which waves it sends.

    It sends its own wave, and every earlier wave that did not send (held, or never run); a
    missed wave's readers wait for ``digest schedule run-now LIST --wave``. A reader who joins
    or moves zone after the freeze goes on their zone's wave while it is still ahead (not yet
    claimed), else on this one: never two copies (one row per reader), never none.
    """
    released = frozenset(
        w.at
        for w in waves.waves
        if w.at == wave or (w.at < wave and outcomes.get(w.at) not in ("missed", "sent"))
    )

    def target(zone: str) -> datetime:
        at = waves.slot(zone)
        return at if at in released or (at > wave and at not in outcomes) else wave

    zones = tuple(sorted({z for w in waves.waves for z in w.zones}))
    return Placing(default, zones, waves.slot, target, released)


@dataclass(frozen=True, slots=True)
class DueWave:
    """A wave whose time has come, with the period it belongs to."""

    window: Window
    at: datetime
    plan: WavePlan


def waves_between(
    settings: Settings, store: Store, list_name: str, since: datetime, until: datetime
) -> list[DueWave]:
    """The waves of every period with a wave in (``since``, ``until``], in time order."""
    sched = effective(settings, store.runs, list_name)
    list_id = store.subscribers.list_id(sched.list_name)
    counts = readers_by_zone(store, list_id, sched.timezone)
    probe = plan_for(settings, store, list_name, sched.period(until), counts)
    nominal = probe.wall.replace(tzinfo=ZoneInfo(sched.timezone)).astimezone(UTC)
    span = max(abs(probe.close - nominal), abs(probe.last - nominal))
    span = span * 2 + timedelta(seconds=1)  # room for a DST change between periods
    found: list[DueWave] = []
    fires = next_fires(sched.trigger, since - span - timedelta(seconds=1), 1)
    for _ in range(MAX_PERIODS):  # the oldest first: a long outage is worked off pass by pass
        fire = fires[0]
        if fire.astimezone(UTC) > until + span:
            break
        window = sched.period(fire)
        waves = plan_for(settings, store, list_name, window, counts)
        found.extend(DueWave(window, w.at, waves) for w in waves.waves if since < w.at <= until)
        fires = next_fires(sched.trigger, fire, 1)
    return sorted(found, key=lambda d: d.at)


def missed_command(list_name: str, wave: datetime) -> str:
    """The command that sends a missed wave."""
    return f"digest schedule run-now {list_name} --wave {wave.astimezone(UTC).isoformat()}"
