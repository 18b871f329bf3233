"""One wave of a list sent in its readers' zones: claimed once, sent to its readers, recorded.

The first wave collects, builds and freezes the period's issue with its wave plan; every later
wave sends that frozen issue. The issue is ``sent`` once every wave of its plan is claimed.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta

from ..archive import Archive
from ..claims import MANUAL
from ..errors import ClaimHeldError, DigestError
from ..models import Window
from ..periods import effective, parse_duration
from ..pipeline import Pipeline
from ..reports import SendReport
from ..store.accounts import ledger_report
from ..store.runs import Run
from ..subscribers.membership import sync_list
from .local import placing_for, plan_for, waves_between

log = logging.getLogger(__name__)


def run_wave(
    pipeline: Pipeline,
    list_name: str,
    window: Window,
    wave: datetime,
    trigger: str,
    *,
    retake: tuple[str, ...] = MANUAL,
    wait: timedelta = timedelta(0),
) -> Run | None:
    """Claim one wave of a period, send the issue to its readers, record the run; None: the
    wave is done already. ``ClaimHeldError`` when a live process is sending it."""
    with pipeline.claimed(list_name, window, trigger, wait, retake, wave=wave) as run:
        if run is None:
            return None

        def collect_and_send() -> SendReport:
            list_id = pipeline.store.subscribers.list_id(pipeline.settings.list(list_name).name)
            if pipeline.store.issues.for_period(list_id, window) is None:
                pipeline.collect()
            report = send_wave(pipeline, list_name, window, wave)
            for problem in report.roster_problems:
                log.warning("%s: roster %s", list_name, problem)
            return report

        try:
            pipeline.recorded(run, collect_and_send)
        except DigestError as exc:  # recorded on the run; the caller reads it from there
            log.error("%s: wave %s failed: %s", list_name, wave.isoformat(), exc)
        except Exception:
            log.exception("%s: wave %s crashed", list_name, wave.isoformat())
    return pipeline.store.runs.get(run.id)


def send_wave(pipeline: Pipeline, list_name: str, window: Window, wave: datetime) -> SendReport:
    """Freeze the period's issue (once) and deliver it to one wave's readers; the caller holds
    the wave's claim. The report's counts are this wave's."""
    store, lst = pipeline.store, pipeline.settings.list(list_name)
    problems = sync_list(pipeline.settings, store, list_name, pipeline.clock()).problems
    built = pipeline.build(list_name, window.end)
    base = SendReport(
        built.list_name, "", issue_number=built.digest.number, roster_problems=problems
    )
    outcomes = store.runs.waves(lst.name, window)
    empty = not built.digest.posts or "skipped" in outcomes.values()
    if built.stored is None and lst.skip_if_empty and empty:
        return replace(base, outcome="no-posts")
    if lst.approval == "required" and (built.stored is None or built.stored.status == "draft"):
        log.warning("%s: issue %d is not approved; wave held", lst.name, built.digest.number)
        return replace(base, outcome="held")
    # readers per zone (a scan of the roster) only while every reader is still to be planned
    planned = built.stored is not None and built.stored.planned_at is not None
    counts: dict[str, int] | None = {} if planned else None
    waves = plan_for(pipeline.settings, store, lst.name, window, counts, stored=built.stored)
    default = effective(pipeline.settings, store.runs, lst.name).timezone
    placing = placing_for(waves, wave, outcomes, default)
    backend = pipeline.backend()
    try:
        sender = pipeline.sender(backend)
        issue = sender.freeze(built, placing)
        if built.stored is None:
            Archive(pipeline.settings, pipeline.builder.renderer).publish(built.digest)
        before = store.issues.counts(issue.id, placing.released)
        sender.deliver(issue, built.list_name, placing.released)
    finally:
        backend.close()
    folder = getattr(backend, "folder", None)
    report = ledger_report(store, issue, built.list_name, placing.released)
    counts = {  # what this run did: its waves' rows less what they held before it sent
        k: n - before.get(k, 0) for k, n in report.counts.items() if n > before.get(k, 0)
    }
    return replace(
        report,
        counts=counts,
        roster_problems=problems,
        destination=str(folder(sender.envelope(issue, built.list_name))) if folder else None,
    )


def run_due(
    pipeline: Pipeline, wait: timedelta = timedelta(0)
) -> tuple[list[Run], list[ClaimHeldError]]:
    """``digest run`` for lists sent in readers' zones: each wave due within ``grace``, once."""
    done: list[Run] = []
    busy: list[ClaimHeldError] = []
    now = pipeline.clock()
    since = now - parse_duration(pipeline.settings.scheduler.grace)
    for lst in pipeline.settings.lists:
        if lst.deliver != "local":
            continue
        for due in waves_between(pipeline.settings, pipeline.store, lst.name, since, now):
            try:
                run = run_wave(pipeline, lst.name, due.window, due.at, "run", retake=(), wait=wait)
            except ClaimHeldError as exc:
                busy.append(exc)
                continue
            if run is not None:
                done.append(run)
    return done, busy
