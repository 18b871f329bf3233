"""Collect phase: read every source into the store; one bad source never sinks the run."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime

from .config import Settings
from .reports import CollectReport, SourceOutcome
from .sources.base import Source, SourceReport
from .sources.feed.fetch import collect_budget
from .store import Store

log = logging.getLogger(__name__)
WORKERS = 8
"""Sources read at once; store writes stay on the calling thread."""
GRACE = 1.0
"""Seconds past the budget a source has to hand back what it read before its fetches stopped."""


def make_sources(settings: Settings) -> list[Source]:
    """Instantiate every enabled configured source through its registered type."""
    return [s.factory(s, settings) for s in settings.sources if s.enabled]


def collect(
    settings: Settings,
    store: Store,
    now: datetime,
    sources: Sequence[Source] | None = None,
    workers: int = WORKERS,
) -> CollectReport:
    """Read all sources, ``workers`` at a time, and store their posts in config order.

    Failures are reported, never raised; storing in config order keeps "the earlier post"
    of a duplicate pair the same whichever source answered first. The phase ends after
    ``[collect] budget``: fetches still running then stop, and a source that has not
    answered shortly after is reported as skipped and not waited for.
    """
    chosen = make_sources(settings) if sources is None else list(sources)
    outcomes: dict[int, SourceOutcome] = {}
    runnable: list[tuple[int, Source, Mapping[str, str]]] = []
    for i, source in enumerate(chosen):
        if store.sources.is_disabled(source.name):
            error = "disabled (digest sources enable NAME turns it back on)"
            outcomes[i] = SourceOutcome(source.name, error=error, disabled=True)
        else:
            runnable.append((i, source, store.sources.state(source.name)))
    if runnable:
        budget = settings.collect.budget_seconds
        until = time.monotonic() + budget
        size = max(1, min(workers, len(runnable)))
        pool = ThreadPoolExecutor(size, thread_name_prefix="digest-collect")
        try:
            futures = [
                (i, source, pool.submit(_read, source, state, until))
                for i, source, state in runnable
            ]
            wait([f for _, _, f in futures], timeout=max(0.0, until - time.monotonic()) + GRACE)
            for i, source, future in futures:
                if future.done():
                    report = future.result()
                else:
                    late = f"over the collect budget ({settings.collect.budget}): skipped"
                    report = SourceReport(source.name, error=late)
                outcomes[i] = _store(store, report, now)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)  # late sources are not waited for
    return CollectReport(tuple(outcomes[i] for i in range(len(chosen))))


def _read(source: Source, state: Mapping[str, str], until: float) -> SourceReport:
    try:
        with collect_budget(until):
            return source.collect(state)
    except Exception as exc:  # a broken source must not sink the run
        log.exception("source %s crashed", source.name)
        return SourceReport(source.name, error=f"{type(exc).__name__}: {exc}")


def _store(store: Store, report: SourceReport, now: datetime) -> SourceOutcome:
    for problem in report.problems:
        log.warning("%s: skipped %s", report.source, problem)
    if report.error:
        log.warning("%s: failed: %s", report.source, report.error)
    counts = store.posts.upsert(report.posts, now)
    store.sources.record(
        report.source,
        now,
        error=report.error,
        state=report.state if not report.error else None,
        disabled=report.disabled,
        skipped=tuple(str(p) for p in report.problems),
    )
    return SourceOutcome(
        source=report.source,
        fetched=len(report.posts),
        new=counts.new,
        updated=counts.updated,
        unchanged=counts.unchanged,
        duplicate=counts.duplicate,
        problems=report.problems,
        error=report.error,
        not_modified=report.not_modified,
        disabled=report.disabled,
    )
