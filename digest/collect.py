"""Collect phase: read every source into the store; one bad source never sinks the run."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from . import registry
from .config import Settings
from .sources.base import Problem, Source, SourceReport
from .store import Store

log = logging.getLogger(__name__)


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
    settings: Settings, store: Store, now: datetime, sources: Sequence[Source] | None = None
) -> CollectReport:
    """Read all sources and store their posts; failures are reported, never raised."""
    outcomes = []
    for source in make_sources(settings) if sources is None else sources:
        if store.sources.is_disabled(source.name):
            outcomes.append(SourceOutcome(source.name, error="disabled", disabled=True))
            continue
        try:
            report = source.collect(store.sources.state(source.name))
        except Exception as exc:  # a broken source must not sink the run
            log.exception("source %s crashed", source.name)
            report = SourceReport(source.name, error=f"{type(exc).__name__}: {exc}")
        outcomes.append(_store(store, report, now))
    return CollectReport(tuple(outcomes))


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
