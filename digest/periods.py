"""The one definition of a list's period, used by issues, claims, the scheduler and run-now.

A list's period is cut by its *effective* schedule: the config's ``schedule`` and ``timezone``,
overridden by ops with ``digest schedule set``. Issues are keyed by their period and every send
claims (list, period); if two places cut time differently, two claims could send one issue
(issue 14 item 8), so nothing else may call ``period_at`` for a list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from apscheduler.triggers.base import BaseTrigger

from .config import Settings
from .models import Window
from .schedule import parse_crontab, period_at
from .store.runs import RunRepo


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


def effective(settings: Settings, runs: RunRepo, list_name: str) -> Effective:
    """The schedule ``list_name`` runs on now."""
    lst = settings.list(list_name)
    o = runs.override(lst.name)
    if o is None:
        return Effective(lst.name, lst.schedule, lst.timezone, False, None)
    return Effective(
        lst.name, o.cron or lst.schedule, o.timezone or lst.timezone, o.paused, o.since
    )


def period_of(settings: Settings, runs: RunRepo, list_name: str, at: datetime) -> Window:
    """The list's period holding ``at``: after one fire time, up to and including the next."""
    return effective(settings, runs, list_name).period(at)
