"""The scheduler's side of a list sent in its readers' zones: each wave run once, on time or
caught up within ``grace``, or recorded as missed with the command that sends it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.base import BaseScheduler

from ..claims import SCHEDULED
from ..config import SchedulerSettings
from ..errors import ClaimHeldError
from ..models import IssueRow
from ..periods import effective, next_fires, parse_duration
from ..pipeline import Pipeline
from ..store.runs import Run
from ..subscribers.membership import sync_list
from .local import missed_command, plan_for, waves_between
from .send import run_wave

log = logging.getLogger(__name__)


class WaveJobs:
    """The scheduler's wave runner: one pass per list at a time, a date job at the next wave
    (so it goes out on time between polls), rosters synced when their file changed."""

    def __init__(
        self,
        pipeline: Pipeline,
        aps: BaseScheduler,
        clock: Callable[[], datetime],
        stopping: threading.Event,
        settings: SchedulerSettings,
    ):
        self.pipeline, self.aps, self.clock = pipeline, aps, clock
        self.stopping, self.settings = stopping, settings
        self._locks: dict[str, threading.Lock] = {}
        self._rosters: dict[str, float] = {}

    def run(self, list_name: str) -> list[tuple[datetime, str]]:
        """Run the list's due waves (see ``dispatch``); [] while another pass is under way."""
        lock = self._locks.setdefault(list_name, threading.Lock())
        if self.stopping.is_set() or not lock.acquire(blocking=False):
            return []
        try:
            self._sync_roster(list_name)
            grace = parse_duration(self.settings.grace)
            return dispatch(self.pipeline, list_name, self.clock(), grace)
        finally:
            lock.release()

    def fire(self, list_name: str) -> None:
        """Run what is due, then plan a job at the next wave."""
        try:
            self.run(list_name)
            self._next(list_name)
        except Exception:
            log.exception("%s: waves failed", list_name)

    def _sync_roster(self, list_name: str) -> None:
        """Bring a changed roster file in, so the wave plan sees readers' zones as they are."""
        path = self.pipeline.settings.list(list_name).subscribers
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return
        if self._rosters.get(list_name) != mtime:
            sync_list(self.pipeline.settings, self.pipeline.store, list_name, self.clock())
            self._rosters[list_name] = mtime

    def _next(self, list_name: str) -> None:
        horizon = parse_duration(self.settings.poll) * 2 + timedelta(seconds=1)
        at = next_wave(self.pipeline, list_name, self.clock(), horizon)
        if at is None or self.stopping.is_set():
            return
        self.aps.add_job(
            self.fire,
            "date",
            run_date=at,
            args=[list_name],
            id=f"wave:{list_name}",
            jobstore="internal",
            replace_existing=True,
            misfire_grace_time=None,
        )


def _run(
    pipeline: Pipeline, list_name: str, window: Any, wave: datetime, trigger: str
) -> Run | None:
    try:
        return run_wave(pipeline, list_name, window, wave, trigger, retake=SCHEDULED)
    except ClaimHeldError as exc:  # another process is sending this wave
        log.info("%s", exc)
        return None


def dispatch(
    pipeline: Pipeline, list_name: str, now: datetime, grace: timedelta
) -> list[tuple[datetime, str]]:
    """Run the list's waves due since the last wave anyone claimed (or since scheduling
    began), each once; record as missed those older than ``grace``. Returns (wave, outcome)
    per wave touched.

    Waves are taken in time order, so a wave another process is still sending is left to it
    and the next ones still go out; readers of a wave before scheduling began go with the
    first wave after it.
    """
    sched = effective(pipeline.settings, pipeline.store.runs, list_name)
    if sched.paused:
        return []
    runs = pipeline.store.runs
    last = runs.last_wave(sched.list_name)
    since = last if last is not None else sched.since
    if since is None:
        return []
    done: list[tuple[datetime, str]] = []
    for due in waves_between(pipeline.settings, pipeline.store, sched.list_name, since, now):
        if runs.claimed(sched.list_name, due.window, due.at) is not None:
            continue
        if now - due.at <= grace:
            late = now - due.at > timedelta(seconds=max(2.0, grace.total_seconds() / 1000))
            trigger = "catch-up" if late else "schedule"
            if late:
                log.warning("%s: catching up the wave due at %s", sched.list_name, due.at)
            run = _run(pipeline, sched.list_name, due.window, due.at, trigger)
            done.append((due.at, run.outcome if run else "already handled"))
            continue
        detail = (
            f"scheduler was down at {due.at.isoformat()}; "
            f"send it with: {missed_command(sched.list_name, due.at)}"
        )
        if runs.record_missed(sched.list_name, due.window, now, detail, wave=due.at):
            log.error(
                "%s: MISSED the wave due at %s (beyond the grace time); send it with: %s",
                sched.list_name, due.at, missed_command(sched.list_name, due.at),
            )  # fmt: skip
            done.append((due.at, "missed"))
    return done


def resume(pipeline: Pipeline, now: datetime) -> list[Run]:
    """Resume waves whose owner stopped or died (its lease ran out)."""
    resumed: list[Run] = []
    configured = {lst.name for lst in pipeline.settings.lists}
    for list_name, window, wave, owner, lease_until in pipeline.store.runs.running_waves():
        if list_name not in configured or owner is None:
            continue
        if lease_until is not None and lease_until > now:
            continue
        log.warning("%s: resuming the wave due at %s", list_name, wave)
        run = _run(pipeline, list_name, window, wave, "resume")
        if run is not None:
            resumed.append(run)
    return resumed


def next_wave(
    pipeline: Pipeline, list_name: str, now: datetime, horizon: timedelta
) -> datetime | None:
    """The list's first wave after ``now`` within ``horizon``."""
    found = waves_between(pipeline.settings, pipeline.store, list_name, now, now + horizon)
    return found[0].at if found else None


def first_wave(pipeline: Pipeline, list_name: str, now: datetime) -> tuple[Any, datetime]:
    """The coming period (the next fire's) and its first wave: when approval is due."""
    sched = effective(pipeline.settings, pipeline.store.runs, list_name)
    (due,) = next_fires(sched.trigger, now, 1)
    window = sched.period(due)
    return window, plan_for(pipeline.settings, pipeline.store, list_name, window).close


def describe(
    pipeline: Pipeline, list_name: str, now: datetime, count: int = 3
) -> list[dict[str, Any]]:
    """The coming waves for ``schedule show``: UTC, each zone's local time, readers, state."""
    sched = effective(pipeline.settings, pipeline.store.runs, list_name)
    if sched.paused:
        return []
    out: list[dict[str, Any]] = []
    at = now - timedelta(seconds=1)
    for fire in next_fires(sched.trigger, at, count):
        window = sched.period(fire)
        waves = plan_for(pipeline.settings, pipeline.store, list_name, window)
        outcomes = pipeline.store.runs.waves(sched.list_name, window)
        for wave in waves.waves:
            if wave.at < now and wave.at in outcomes:
                continue
            out.append(
                {
                    "period_end": window.end.astimezone(ZoneInfo(sched.timezone)).isoformat(),
                    "utc": wave.at.astimezone(UTC).isoformat(),
                    "local": {z: wave.local(z).isoformat() for z in wave.zones},
                    "readers": wave.readers,
                    "closes_content": wave.at == waves.close,
                    "state": outcomes.get(wave.at, "coming"),
                }
            )
    return out


def of_issue(pipeline: Pipeline, list_name: str, issue: IssueRow) -> list[dict[str, Any]]:
    """Each wave of a stored issue: when, its zones' local times, and what its run did."""
    if not issue.waves:
        return []
    waves = plan_for(pipeline.settings, pipeline.store, list_name, issue.window, stored=issue)
    latest = {r.wave: r for r in pipeline.store.runs.of_period(list_name, issue.window) if r.wave}
    out = []
    for wave in waves.waves:
        run = latest.get(wave.at)
        out.append(
            {
                "utc": wave.at.isoformat(),
                "local": {z: wave.local(z).isoformat() for z in wave.zones},
                "readers": wave.readers,
                "outcome": run.outcome if run else "coming",
                "detail": run.detail if run else None,
                "counts": run.counts if run else {},
            }
        )
    return out


def desk_plan(pipeline: Pipeline, list_name: str) -> dict[str, Any] | None:
    """The desk's read-only block: the coming waves and when approval is due (None: the list
    is sent at once, in its own zone)."""
    if pipeline.settings.list(list_name).deliver != "local":
        return None
    now = pipeline.clock()
    waves = [
        {**w, "label": _label(w["utc"], "%a %d %b, %H:%M")}
        for w in describe(pipeline, list_name, now, 1)
    ]
    deadline = next((w["utc"] for w in waves if w["closes_content"]), None)
    return {
        "deadline": deadline,
        "deadline_label": _label(deadline, "%a %d %b %Y, %H:%M UTC") if deadline else None,
        "approval": pipeline.settings.list(list_name).approval == "required",
        "waves": waves,
    }


def _label(utc: str, form: str) -> str:
    """A wave's instant as people read it, e.g. ``Sun 29 Nov 2026, 22:00 UTC``."""
    return datetime.fromisoformat(utc).astimezone(UTC).strftime(form)
