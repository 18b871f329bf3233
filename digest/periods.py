"""Crontab strings, in the crontab sense, and the periods (weeks) they cut time into.

APScheduler 3's ``CronTrigger.from_crontab`` numbers weekdays from Monday (``1`` is Tuesday);
crontab numbers them from Sunday (``0``/``7`` is Sunday, ``1`` Monday). We translate the
day-of-week field to names ourselves so the crontab meaning is the one users get.

``period_of`` is the one definition of a list's period, used by issues, claims, the scheduler
and run-now. A list's period is cut by its *effective* schedule: the config's ``schedule`` and
``timezone``, overridden by ops with ``digest schedule set``. Issues are keyed by their period
and every send claims (list, period); if two places cut time differently, two claims could send
one issue (issue 14 item 8), so nothing else may call ``period_at`` for a list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

from .models import Window

if TYPE_CHECKING:
    from .store.runs import RunRepo

_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DOW_ITEM = re.compile(r"^(\*|[0-7a-z]{1,3}(?:-[0-7a-z]{1,3})?)(?:/(\d+))?$")
_LOOKBACKS = (*(timedelta(seconds=2**k) for k in range(25)), timedelta(days=367))
"""How far back ``period_at`` looks for the previous fire, doubling: the walk from the first
fire found is then short for any schedule (a fixed 2 days meant 86,400 steps at */2 seconds)."""


def parse_duration(text: str) -> timedelta:
    """``"90s"``, ``"15m"``, ``"12h"`` or ``"2d"`` as a timedelta."""
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"expected a duration like '90s', '15m', '12h' or '2d', got {text!r}")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


def latest_fire(trigger: BaseTrigger, at: datetime) -> datetime:
    """The last fire time at or before ``at``."""
    window = period_at(trigger, at)
    return window.end if window.end.astimezone(UTC) <= at.astimezone(UTC) else window.start


def _day(token: str, expr: str) -> int:
    if token.isdigit() and int(token) <= 7:
        return int(token) % 7
    if token[:3] in _DAYS and len(token) == 3:
        return _DAYS.index(token)
    raise ValueError(f"schedule {expr!r}: bad day of week {token!r} (expected 0-7 or sun-sat)")


def crontab_days(field: str, expr: str) -> list[int]:
    """The weekdays (0 = Sunday) a crontab day-of-week field selects."""
    days: set[int] = set()
    for item in field.lower().split(","):
        m = _DOW_ITEM.match(item)
        if not m:
            raise ValueError(f"schedule {expr!r}: bad day-of-week item {item!r}")
        span, step = m.group(1), int(m.group(2) or 1)
        if step < 1:
            raise ValueError(f"schedule {expr!r}: step must be at least 1")
        if span == "*":
            lo, hi = 0, 6
        elif "-" in span:
            a, b = span.split("-")
            lo, hi = _day(a, expr), _day(b, expr)
            if b in ("7",):
                hi = 7
            if hi < lo:
                raise ValueError(f"schedule {expr!r}: day range {span!r} runs backwards")
        else:
            lo = hi = _day(span, expr)
            if step > 1:
                hi = 6
        days.update(d % 7 for d in range(lo, hi + 1, step))
    return sorted(days)


def parse_crontab(expr: str, timezone: str) -> BaseTrigger:
    """An APScheduler trigger that fires when crontab would for ``expr`` in ``timezone``."""
    text = _MACROS.get(expr.strip().lower(), expr.strip())
    fields = text.split()
    second = "0"
    if len(fields) == 6:  # extension: a leading seconds field, for tests and drills
        second, fields = fields[0], fields[1:]
    if len(fields) != 5:
        raise ValueError(
            f"schedule {expr!r}: expected 5 fields 'minute hour day month weekday', "
            f"e.g. '0 7 * * 1' for Mondays at 07:00"
        )
    minute, hour, dom, month, dow = fields
    tz = ZoneInfo(timezone)
    days = ",".join(_DAYS[d] for d in crontab_days(dow, expr))
    try:
        if dom != "*" and dow != "*":  # crontab: either field matching is enough
            return OrTrigger(
                [
                    CronTrigger(minute=minute, hour=hour, day=dom, month=month, timezone=tz),
                    CronTrigger(
                        minute=minute, hour=hour, month=month, day_of_week=days, timezone=tz
                    ),
                ]
            )
        return CronTrigger(
            second=second,
            minute=minute,
            hour=hour,
            day=dom,
            month=month,
            day_of_week=days,
            timezone=tz,
        )
    except ValueError as exc:
        raise ValueError(f"schedule {expr!r}: {exc}") from None


def next_fire(trigger: BaseTrigger, at: datetime) -> datetime:
    """The first fire time at or after ``at``, a repeated wall-clock time counting once.

    In a DST fall-back hour APScheduler fires twice at the same wall-clock time; crontab
    users mean one run, so the second occurrence maps back to the first.
    """
    fire = trigger.get_next_fire_time(None, at)
    if fire is None:
        raise ValueError("the schedule never fires again")
    result: datetime = fire
    if result.fold == 1:
        first = result.replace(fold=0)
        if first.astimezone(UTC) != result.astimezone(UTC) and _fires_at(trigger, first):
            if at.astimezone(UTC) >= result.astimezone(UTC):
                return first  # the repeated firing itself belongs to the first one's period
            return next_fire(trigger, _after(result))
    return result


def _fires_at(trigger: BaseTrigger, when: datetime) -> bool:
    fire = trigger.get_next_fire_time(None, when.astimezone(UTC) - timedelta(seconds=1))
    return fire is not None and fire.astimezone(UTC) == when.astimezone(UTC)


def _after(fire: datetime) -> datetime:
    """One second after ``fire`` in absolute time (wall-clock arithmetic loops in DST folds)."""
    return (fire.astimezone(UTC) + timedelta(seconds=1)).astimezone(fire.tzinfo)


def next_fires(trigger: BaseTrigger, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` distinct fire times strictly after ``after``."""
    out: list[datetime] = []
    at = _after(after)
    while len(out) < count:
        fire = next_fire(trigger, at)
        out.append(fire)
        at = _after(fire)
    return out


def period_at(trigger: BaseTrigger, at: datetime) -> Window:
    """The period holding ``at``: after the previous fire time, up to and including the next.

    A scheduled run at fire time F builds the issue for the period ending at F; a manual run
    between two fire times builds the issue for the period still under way.
    """
    end = next_fire(trigger, at)
    end_utc = end.astimezone(UTC)
    for lookback in _LOOKBACKS:
        fire = next_fire(trigger, (end_utc - lookback).astimezone(end.tzinfo))
        if fire.astimezone(UTC) < end_utc:
            start = fire
            while True:
                following = next_fire(trigger, _after(start))
                if following.astimezone(UTC) >= end_utc:
                    return Window(start=start, end=end)
                start = following
    return Window(start=end - _LOOKBACKS[-1], end=end)


@dataclass(frozen=True)
class Effective:
    """A list's schedule as it applies now: config, overridden by ops."""

    list_name: str
    cron: str
    timezone: str
    paused: bool
    since: datetime | None

    @cached_property
    def trigger(self) -> BaseTrigger:
        return parse_crontab(self.cron, self.timezone)

    def period(self, at: datetime) -> Window:
        """The period holding ``at``: after one fire time, up to and including the next."""
        return period_at(self.trigger, at)


class ListSchedule(Protocol):
    """What cuts a list's periods: its name, crontab and zone (``ListSettings`` has them)."""

    @property
    def name(self) -> str: ...
    @property
    def schedule(self) -> str: ...
    @property
    def timezone(self) -> str: ...


class Lists(Protocol):
    """Where a list's schedule is found by name (``Settings`` is one; config imports us)."""

    def list(self, name: str) -> ListSchedule: ...


def effective(settings: Lists, runs: RunRepo, list_name: str) -> Effective:
    """The schedule ``list_name`` runs on now."""
    lst = settings.list(list_name)
    o = runs.override(lst.name)
    if o is None:
        return Effective(lst.name, lst.schedule, lst.timezone, False, None)
    return Effective(
        lst.name, o.cron or lst.schedule, o.timezone or lst.timezone, o.paused, o.since
    )


def period_of(settings: Lists, runs: RunRepo, list_name: str, at: datetime) -> Window:
    """The list's period holding ``at``: after one fire time, up to and including the next."""
    return effective(settings, runs, list_name).period(at)
