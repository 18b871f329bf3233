"""Collect phase: read every source into the store; one bad source never sinks the run."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime

from .config import Settings
from .reports import CollectReport, SourceOutcome
from .sources.base import Source, SourceReport
from .sources.feed.fetch import collect_budget
from .sources.feed.pool import Parser, ProcessParser, parsing_with
from .sources.feed.source import FeedSource
from .store import Store
from .store.sources import record_in

log = logging.getLogger(__name__)
WORKERS = 8
"""Sources read at once; store writes stay on the calling thread."""
POOL_FROM = 8
"""Feeds in a collect from which their parsing goes to a pool of processes."""
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
    answered shortly after is reported as skipped and not waited for. Feed bodies are parsed
    by the workers (``[workers] broker``, when one takes the queue), else in ``[collect]
    processes`` processes.
    """
    started = time.monotonic()
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
        feeds = sum(isinstance(source, FeedSource) for _, source, _ in runnable)
        parser = make_parser(settings, feeds)
        try:
            futures = [
                (i, source, pool.submit(_read, source, state, until, parser))
                for i, source, state in runnable
            ]
            # with parsing in other processes, each source is stored once it and those before
            # it are read, while later ones are still fetched and parsed; parsing here holds
            # the GIL, and storing beside it cost more CPU than it saved (200 feeds: +0.5 s)
            deadline = until + GRACE
            if parser is None:
                wait([f for _, _, f in futures], timeout=max(0.0, deadline - time.monotonic()))
            for i, source, future in futures:
                try:
                    report = future.result(timeout=max(0.0, deadline - time.monotonic()))
                except FutureTimeout:
                    late = f"over the collect budget ({settings.collect.budget}): skipped"
                    report = SourceReport(source.name, error=late)
                outcomes[i] = _store(store, report, now)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)  # late sources are not waited for
            if parser is not None:
                parser.close()
    seconds = time.monotonic() - started
    return CollectReport(tuple(outcomes[i] for i in range(len(chosen))), seconds=seconds)


def make_parser(settings: Settings, feeds: int) -> Parser | None:
    """Where ``feeds`` feeds are parsed: by the workers, in a pool of processes, or here (None).

    A pool costs a process start and digest's imports; below ``POOL_FROM`` feeds parsing them
    here costs less.
    """
    processes = settings.collect.parsers

    def local() -> Parser | None:
        return ProcessParser(processes) if processes > 1 and feeds >= POOL_FROM else None

    if feeds == 0:
        return None
    if settings.workers.broker_url():
        # Celery takes most of a second to import: only collects through workers pay for it
        from .workers.parsing import WorkerParser

        return WorkerParser(settings, fallback=local)
    return local()


def _read(
    source: Source, state: Mapping[str, str], until: float, parser: Parser | None
) -> SourceReport:
    try:
        with collect_budget(until), parsing_with(parser):
            return source.collect(state)
    except Exception as exc:  # a broken source must not sink the run
        log.exception("source %s crashed", source.name)
        return SourceReport(source.name, error=f"{type(exc).__name__}: {exc}")


def _store(store: Store, report: SourceReport, now: datetime) -> SourceOutcome:
    for problem in report.problems:
        log.warning("%s: skipped %s", report.source, problem)
    if report.error:
        log.warning("%s: failed: %s", report.source, report.error)
    with store.begin() as conn:  # a source's posts and its new state (ETag...) go together
        counts = store.posts.upsert_in(conn, report.posts, now, report.fingerprints)
        record_in(
            conn,
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
