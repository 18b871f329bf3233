"""Collect phase: read every source into the store; one bad source never sinks the run."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from . import registry
from .config import Settings
from .sources.base import Problem, Source, SourceReport
from .store import Store

log = logging.getLogger(__name__)
WORKERS = 8
"""Sources read at once; store writes stay on the calling thread."""


@dataclass(frozen=True, slots=True)
class SourceOutcome:
    """What collecting one source did."""

    source: str
    fetched: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicate: int = 0
    problems: tuple[Problem, ...] = ()
    error: str | None = None
    not_modified: bool = False
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class CollectReport:
    """What collecting every source did."""

    outcomes: tuple[SourceOutcome, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> list[SourceOutcome]:
        return [o for o in self.outcomes if o.error]

    @property
    def skipped(self) -> list[SourceOutcome]:
        """Sources that were read but skipped some of their items."""
        return [o for o in self.outcomes if o.problems and not o.error]

    @property
    def all_failed(self) -> bool:
        return bool(self.outcomes) and len(self.failed) == len(self.outcomes)

    @property
    def new(self) -> int:
        return sum(o.new for o in self.outcomes)


def make_sources(settings: Settings) -> list[Source]:
    """Instantiate every enabled configured source through its registered type."""
    types = registry.source_types()
    return [types[s.type].factory(s, settings) for s in settings.sources if s.enabled]


def collect(
    settings: Settings,
    store: Store,
    now: datetime,
    sources: Sequence[Source] | None = None,
    workers: int = WORKERS,
) -> CollectReport:
    """Read all sources, ``workers`` at a time, and store their posts in config order.

    Failures are reported, never raised; storing in config order keeps "the earlier post"
    of a duplicate pair the same whichever source answered first.
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
        size = max(1, min(workers, len(runnable)))
        with ThreadPoolExecutor(size, thread_name_prefix="digest-collect") as pool:
            futures = [(i, pool.submit(_read, source, state)) for i, source, state in runnable]
            for i, future in futures:
                outcomes[i] = _store(store, future.result(), now)
    return CollectReport(tuple(outcomes[i] for i in range(len(chosen))))


def _read(source: Source, state: Mapping[str, str]) -> SourceReport:
    try:
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
