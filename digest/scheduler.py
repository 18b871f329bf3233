"""The scheduler process: APScheduler 3, its jobs kept in the database, one job per list.

APScheduler decides *when* to fire; it does not decide *whether* a period runs. That is the
unique (list, period) claim in the store (``digest/store/runs.py``), so two schedulers on one
database, a DST hour that fires twice, ``run-now`` during a scheduled run, or a restart
mid-run can never make two issues of one period. Jobs are reconciled with the config and the
ops overrides explicitly, never re-added with ``replace_existing`` (which would silently
reset a missed run), and missed periods are handled by ``catch_up`` rather than by
APScheduler's misfire logic, so each one is either run or recorded as ``missed``. A fire the
running process is late for (a busy machine) still reaches ``fire``, which judges lateness
against ``[scheduler] grace``; APScheduler's own misfire limit would drop it without a trace.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.jobstores.base import ConflictingIdError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from . import periods
from .claims import SCHEDULED
from .errors import ClaimHeldError
from .models import Window
from .periods import Effective, latest_fire, next_fires, parse_duration
from .pipeline import Pipeline
from .store.owner import owner_id
from .store.runs import Run
from .waves import runs as wave_runs

log = logging.getLogger(__name__)
JOB_PREFIX = "list:"
MAX_MISSED_RECORDS = 100
_active: Scheduler | None = None


def effective(pipeline: Pipeline, list_name: str) -> Effective:
    """The schedule ``list_name`` runs on now."""
    return periods.effective(pipeline.settings, pipeline.store.runs, list_name)


def run_period(
    pipeline: Pipeline,
    list_name: str,
    window: Window,
    trigger: str,
    *,
    retake: tuple[str, ...] = SCHEDULED,
    wait: timedelta = timedelta(0),
) -> Run | None:
    """Run one list's period once: claim it, collect, send, record the outcome.

    None when the period is done already; ``ClaimHeldError`` when a live process is on it.
    A failed send is recorded and logged, not raised.
    """
    run = pipeline.run_period(list_name, window, trigger, retake=retake, wait=wait)
    if run is None:
        outcome = pipeline.store.runs.claimed(list_name, window)
        log.info("%s: period ending %s already handled (%s)", list_name, window.end, outcome)
        return None
    log.info(
        "%s: period ending %s: %s%s",
        list_name,
        window.end,
        run.outcome,
        f" ({run.detail})" if run.detail else "",
    )
    return run


def _scheduled(pipeline: Pipeline, list_name: str, window: Window, trigger: str) -> Run | None:
    """``run_period`` for the scheduler: a period another process is sending is left to it."""
    try:
        return run_period(pipeline, list_name, window, trigger)
    except ClaimHeldError as exc:
        log.info("%s", exc)
        return None


def fire(list_name: str, cron: str, timezone: str) -> None:
    """The APScheduler job target (a module-level function, so its reference can be stored)."""
    if _active is not None:
        _active.fire(list_name)


class Scheduler:
    """Keeps APScheduler's jobs in line with config and overrides, and runs them exactly once."""

    def __init__(self, pipeline: Pipeline, clock: Callable[[], datetime] | None = None):
        self.pipeline = pipeline
        self.clock = clock or pipeline.clock
        self.settings = pipeline.settings.scheduler
        self.owner = owner_id()
        self.started_at = self.clock()
        self.stopping = threading.Event()
        self._tick_lock = threading.Lock()
        self.jobstore = SQLAlchemyJobStore(engine=pipeline.store.engine)
        self.aps = BackgroundScheduler(
            jobstores={
                "default": self.jobstore,
                "internal": MemoryJobStore(),
            },
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        self.wave_jobs = wave_runs.WaveJobs(
            pipeline, self.aps, self.clock, self.stopping, self.settings
        )

    def fire(self, list_name: str) -> None:
        """A list's job fired: run the period that just ended, unless it is too late."""
        if self.stopping.is_set():
            return
        sched = effective(self.pipeline, list_name)
        if sched.paused:
            log.info("%s: paused, not running", list_name)
            return
        if self.pipeline.settings.list(list_name).deliver == "local":
            self.waves(list_name)  # the list's own hour is one wave among others
            return
        now = self.clock()
        fired = latest_fire(sched.trigger, now)
        if now - fired > parse_duration(self.settings.grace):
            return  # catch_up records it
        self.record_skipped(list_name, sched, fired)
        _scheduled(self.pipeline, list_name, sched.period(fired), "schedule")

    def record_skipped(self, list_name: str, sched: Effective, fired: datetime) -> list[datetime]:
        """Record as missed the periods nobody ran since the last claimed one.

        APScheduler skips a fire while the list's previous run is still going; without this,
        such a period would vanish without a trace. The period just before ``fired`` is left
        alone: another scheduler may be about to claim it.
        """
        since = self.pipeline.store.runs.last_claimed_end(list_name)
        if since is None:
            return []
        recorded = []
        for fire_time in _fires_between(sched.trigger, since, fired)[:-2][-MAX_MISSED_RECORDS:]:
            window = sched.period(fire_time)
            detail = f"fire at {fire_time.isoformat()} skipped while an earlier run was going"
            if self.pipeline.store.runs.record_missed(list_name, window, self.clock(), detail):
                log.error(
                    "%s: MISSED the run due at %s; "
                    "run it with: digest schedule run-now %s --for %s",
                    list_name, fire_time, list_name, fire_time.isoformat(),
                )  # fmt: skip
                recorded.append(fire_time)
        return recorded

    def waves(self, list_name: str) -> list[tuple[datetime, str]]:
        """Run the due waves of a list sent in its readers' zones; plan a job at the next."""
        return self.wave_jobs.run(list_name)

    def resume_interrupted(self) -> list[Run]:
        """Resume runs stopped by a shutdown, or whose owner's lease ran out (it died)."""
        resumed: list[Run] = []
        configured = {lst.name for lst in self.pipeline.settings.lists}
        for list_name, window, owner, lease_until in self.pipeline.store.runs.running():
            if list_name not in configured or owner is None:
                continue
            if lease_until is not None and lease_until > self.clock():
                continue  # its owner, here or on another host, still renews the lease
            log.warning("%s: resuming the run for the period ending %s", list_name, window.end)
            run = _scheduled(self.pipeline, list_name, window, "resume")
            if run is not None:
                resumed.append(run)
        return resumed + wave_runs.resume(self.pipeline, self.clock())

    def catch_up(self) -> list[tuple[str, datetime, str]]:
        """Run the last missed period within the grace time; record older ones as missed."""
        now, grace = self.clock(), parse_duration(self.settings.grace)
        done: list[tuple[str, datetime, str]] = []
        for lst in self.pipeline.settings.lists:
            if lst.deliver == "local":
                done.extend((lst.name, at, outcome) for at, outcome in self.waves(lst.name))
                continue
            sched = effective(self.pipeline, lst.name)
            since = self.pipeline.store.runs.last_claimed_end(lst.name) or sched.since
            if sched.paused or since is None:
                continue
            missed = _fires_between(sched.trigger, since, now)
            for fire_time in missed[-MAX_MISSED_RECORDS:]:
                window = sched.period(fire_time)
                if fire_time == missed[-1] and now - fire_time <= grace:
                    log.warning("%s: catching up the run missed at %s", lst.name, fire_time)
                    run = _scheduled(self.pipeline, lst.name, window, "catch-up")
                    done.append((lst.name, fire_time, run.outcome if run else "already handled"))
                elif self.pipeline.store.runs.record_missed(
                    lst.name, window, now, f"scheduler was down at {fire_time.isoformat()}"
                ):
                    log.error(
                        "%s: MISSED the run due at %s (beyond the %s grace time); "
                        "run it with: digest schedule run-now %s --for %s",
                        lst.name, fire_time, self.settings.grace, lst.name, fire_time.isoformat(),
                    )  # fmt: skip
                    done.append((lst.name, fire_time, "missed"))
        return done

    def reconcile(self) -> list[str]:
        """Make the stored jobs match config and overrides; return what changed."""
        changes: list[str] = []
        now = self.clock()
        wanted = {
            f"{JOB_PREFIX}{lst.name}": effective(self.pipeline, lst.name)
            for lst in self.pipeline.settings.lists
        }
        for lst in self.pipeline.settings.lists:
            if self.pipeline.store.runs.override(lst.name) is None:
                self.pipeline.store.runs.set_override(lst.name, now, "scheduler")
        for job in self.aps.get_jobs(jobstore="default"):
            sched = wanted.pop(job.id, None)
            if sched is None:
                job.remove()
                changes.append(f"removed job {job.id} (list no longer configured)")
                continue
            kwargs = {"list_name": sched.list_name, "cron": sched.cron, "timezone": sched.timezone}
            next_run = None if sched.paused else sched.trigger.get_next_fire_time(None, now)
            if job.kwargs != kwargs:
                job.modify(kwargs=kwargs, trigger=sched.trigger, next_run_time=next_run)
                changes.append(
                    f"{sched.list_name}: schedule now {sched.cron!r} in {sched.timezone}"
                )
            elif sched.paused != (job.next_run_time is None):
                job.modify(next_run_time=next_run)
                changes.append(f"{sched.list_name}: {'paused' if sched.paused else 'resumed'}")
            elif job.next_run_time is not None and job.next_run_time < now:
                job.modify(next_run_time=next_run)  # catch_up has dealt with the past
        for job_id, sched in wanted.items():
            with contextlib.suppress(ConflictingIdError):  # another scheduler added it just now
                self._add(job_id, sched, now)
                changes.append(f"{sched.list_name}: added job {sched.cron!r} in {sched.timezone}")
        for change in changes:
            log.info("reconcile: %s", change)
        return changes

    def _add(self, job_id: str, sched: Effective, now: datetime) -> None:
        self.aps.add_job(
            fire,
            sched.trigger,
            id=job_id,
            jobstore="default",
            kwargs={
                "list_name": sched.list_name,
                "cron": sched.cron,
                "timezone": sched.timezone,
            },
            next_run_time=None if sched.paused else sched.trigger.get_next_fire_time(None, now),
        )

    def tick(self) -> None:
        """Periodic housekeeping: heartbeat, changes made by ops, expired claims, builds ahead.

        Never waits for the lock: ``stop`` holds it while APScheduler waits for running jobs,
        so a tick that started meanwhile and waited would deadlock the shutdown.
        """
        if not self._tick_lock.acquire(blocking=False):
            return
        try:
            if not self.stopping.is_set():
                self._tick()
        finally:
            self._tick_lock.release()

    def _tick(self) -> None:
        try:
            self.pipeline.store.runs.beat(self.owner, self.started_at, self.clock(), "running")
            self.reconcile()
            self.resume_interrupted()
            for lst in self.pipeline.settings.lists:
                if lst.deliver == "local":
                    self.wave_jobs.fire(lst.name)
            self.build_ahead()
        except Exception:
            log.exception("scheduler housekeeping failed")

    def build_ahead(self) -> list[str]:
        """For lists needing approval, build the coming issue once it is ``build_ahead`` away."""
        built: list[str] = []
        now = self.clock()
        for lst in self.pipeline.settings.lists:
            sched = effective(self.pipeline, lst.name)
            if lst.approval != "required" or sched.paused:
                continue
            (due,) = next_fires(sched.trigger, now, 1)
            window = sched.period(due)
            if lst.deliver == "local":  # due at the first wave
                window, due = wave_runs.first_wave(self.pipeline, lst.name, now)
            runs = self.pipeline.store.runs
            if due - now > parse_duration(lst.build_ahead) or runs.noted(
                lst.name, window, "build-ahead"
            ):
                continue
            self.pipeline.collect()
            issue = self.pipeline.build(lst.name, at=window.end)
            detail = (
                f"issue {issue.digest.number} ready for approval: {len(issue.digest.posts)} posts, "
                f"due {due.isoformat()}; approve with: digest approve {lst.name}"
            )
            runs.note(lst.name, window, "build-ahead", "prepared", detail, now)
            log.warning("%s: %s", lst.name, detail)
            built.append(lst.name)
        return built

    def start(self) -> None:
        """Start in the background: reconcile, catch up, then fire on schedule."""
        global _active
        _active = self
        self._job_table()
        self.aps.start(paused=True)
        self.reconcile()
        self.resume_interrupted()
        self.catch_up()
        self.reconcile()
        poll = parse_duration(self.settings.poll).total_seconds()
        self.aps.add_job(self.tick, "interval", seconds=poll, id="tick", jobstore="internal")
        self.pipeline.store.runs.beat(self.owner, self.started_at, self.clock(), "running")
        self.aps.resume()

    def _job_table(self) -> None:
        """Create APScheduler's job table unless it exists: two schedulers starting at once on
        a new database both find it missing, and the second CREATE fails (PostgreSQL: a
        duplicate table or type; SQLite: "table apscheduler_jobs already exists")."""
        for _ in range(2):
            try:
                self.jobstore.jobs_t.create(self.pipeline.store.engine, checkfirst=True)
                return
            except (IntegrityError, ProgrammingError, OperationalError):
                log.info("another scheduler created the job table meanwhile")
        self.jobstore.jobs_t.create(self.pipeline.store.engine, checkfirst=True)

    def stop(self) -> None:
        """Finish the job under way, record state and stop."""
        global _active
        self.stopping.set()
        self.pipeline.halt.set()
        # APScheduler's shutdown holds its job-store lock while it waits for running jobs, and
        # tick() needs that lock to reconcile: let a tick under way finish first.
        with self._tick_lock:
            self.aps.shutdown(wait=True)
        self.pipeline.store.runs.beat(self.owner, self.started_at, self.clock(), "stopped")
        _active = None


def _fires_between(trigger: BaseTrigger, since: datetime, now: datetime) -> list[datetime]:
    """Fire times after ``since`` up to ``now``."""
    out: list[datetime] = []
    at = since
    while True:
        (fire,) = next_fires(trigger, at, 1)
        if fire.astimezone(UTC) > now.astimezone(UTC):
            return out
        out.append(fire)
        at = fire
        if len(out) > 10 * MAX_MISSED_RECORDS:
            out = out[-MAX_MISSED_RECORDS:]


def describe(pipeline: Pipeline, list_name: str, now: datetime, count: int = 3) -> dict[str, Any]:
    """What ``schedule show`` prints for one list."""
    sched = effective(pipeline, list_name)
    runs = pipeline.store.runs.history(list_name, limit=1)
    nxt = [] if sched.paused else next_fires(sched.trigger, now - timedelta(seconds=1), count)
    last = runs[0] if runs else None
    local = pipeline.settings.list(list_name).deliver == "local"
    return {
        "list": list_name,
        "schedule": sched.cron,
        "timezone": sched.timezone,
        "deliver": "local" if local else "list",
        "waves": wave_runs.describe(pipeline, list_name, now, 1) if local else [],
        "paused": sched.paused,
        "next_runs": [{"local": f.isoformat(), "utc": f.astimezone(UTC).isoformat()} for f in nxt],
        "last_run": None
        if last is None
        else {
            "started_at": last.started_at.isoformat(),
            "period_end": last.window.end.isoformat(),
            "trigger": last.trigger,
            "issue": last.issue_number,
            "outcome": last.outcome,
            "detail": last.detail,
            "counts": last.counts,
            "destination": last.destination,
        },
    }
