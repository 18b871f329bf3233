"""Read-only views of where sends stand, for ``digest status`` and the metrics of ``digest serve``.

Every figure is read from the tables that decide (claims, the ledger, the run history), so it
is the same whichever host asks and survives any restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, func, or_, select

from .ledger_sql import IN_HAND, IS_WAITING
from .runs import Run, RunRepo
from .schema import deliveries, issues, lists, period_claims, runs, wave_claims
from .zones import issue_spans

HELD = ("running", "interrupted")
"""Claim outcomes that still stand in a period's way: a run under way or stopped by a shutdown."""


@dataclass(frozen=True, slots=True)
class ClaimView:
    """A (list, period) or (list, period, wave) claim that is running or interrupted."""

    list_name: str
    period_start: datetime
    period_end: datetime
    wave: datetime | None
    outcome: str
    owner: str | None
    lease_until: datetime | None

    def expired(self, now: datetime) -> bool:
        """Its owner stopped renewing it: another scheduler may take the period over."""
        return self.lease_until is not None and self.lease_until < now


@dataclass(frozen=True, slots=True)
class IssueLedger:
    """One issue's ledger: rows by status, and chunks in hand (claimed or submitted)."""

    list_name: str
    number: int
    status: str
    counts: dict[str, int]
    chunks_in_hand: int
    overdue: tuple[tuple[datetime, int], ...] = ()
    """Waves due before the time asked about whose readers' rows still wait, and how many."""

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class StandingReads:
    """The queries behind ``digest status`` and ``/metrics``; SQLAlchemy Core only."""

    def __init__(self, engine: Engine, runs: RunRepo):
        self.engine = engine
        self.runs = runs

    def claims(self, list_name: str | None = None) -> list[ClaimView]:
        """Claims held (running) or left by a shutdown (interrupted), oldest period first."""
        found: list[ClaimView] = []
        with self.engine.connect() as conn:
            for table in (period_claims, wave_claims):
                wave = table.c.wave if table is wave_claims else None
                columns = [
                    table.c.list_name, table.c.period_start, table.c.period_end,
                    table.c.outcome, table.c.owner, table.c.lease_until,
                ]  # fmt: skip
                query = select(*columns, *([wave] if wave is not None else [])).where(
                    table.c.outcome.in_(HELD)
                )
                if list_name:
                    query = query.where(table.c.list_name == list_name)
                for r in conn.execute(query):
                    found.append(
                        ClaimView(r[0], r[1], r[2], r[6] if len(r) > 6 else None, r[3], r[4], r[5])
                    )
        return sorted(found, key=lambda c: (c.period_start, c.list_name, c.wave or c.period_start))

    def ledgers(
        self, list_name: str | None = None, latest: bool = False, due: datetime | None = None
    ) -> list[IssueLedger]:
        """Issues still sending; with ``latest``, each list's newest issue too; with ``due``,
        each one's waves due before then with rows still waiting (``overdue``)."""
        wanted = [issues.c.status == "sending"]
        if latest:
            other = issues.alias("other")
            newest = select(func.max(other.c.number)).where(other.c.list_id == issues.c.list_id)
            wanted.append(issues.c.number == newest.scalar_subquery())
        query = (
            select(issues.c.id, lists.c.name, issues.c.number, issues.c.status)
            .join(lists, lists.c.id == issues.c.list_id)
            .where(or_(*wanted))
            .order_by(lists.c.name, issues.c.number)
        )
        if list_name:
            query = query.where(lists.c.name == list_name)
        found = []
        with self.engine.connect() as conn:
            for issue_id, name, number, status in conn.execute(query).all():
                counts = conn.execute(
                    select(deliveries.c.status, func.count())
                    .where(deliveries.c.issue_id == issue_id)
                    .group_by(deliveries.c.status)
                ).all()
                in_hand = conn.execute(
                    select(func.count(func.distinct(deliveries.c.chunk))).where(
                        deliveries.c.issue_id == issue_id, deliveries.c.status.in_(IN_HAND)
                    )
                ).scalar_one()
                tally = {str(s): int(n) for s, n in counts}
                late = () if due is None else tuple(_overdue(conn, issue_id, due))
                ledger = IssueLedger(str(name), int(number), str(status), tally, int(in_hand), late)
                found.append(ledger)
        return found

    def last_runs(self, list_name: str | None = None) -> list[Run]:
        """Each list's most recent run (by start), one per list, by list name."""
        query = select(func.max(runs.c.id)).group_by(runs.c.list_name)
        if list_name:
            query = query.where(runs.c.list_name == list_name)
        with self.engine.connect() as conn:
            ids = [int(i) for (i,) in conn.execute(query)]
        return sorted((self.runs.get(i) for i in ids), key=lambda r: r.list_name)

    def run_outcomes(self) -> dict[tuple[str, str], int]:
        """Finished runs by (list, outcome): a run's outcome never changes once it finished."""
        query = (
            select(runs.c.list_name, runs.c.outcome, func.count())
            .where(runs.c.finished_at.is_not(None))
            .group_by(runs.c.list_name, runs.c.outcome)
        )
        with self.engine.connect() as conn:
            return {(str(n), str(o)): int(c) for n, o, c in conn.execute(query)}

    def last_finished(self, outcome: str = "sent") -> dict[str, datetime]:
        """When each list's last run with ``outcome`` finished."""
        query = (
            select(runs.c.list_name, func.max(runs.c.finished_at))
            .where(runs.c.outcome == outcome, runs.c.finished_at.is_not(None))
            .group_by(runs.c.list_name)
        )
        with self.engine.connect() as conn:
            return {str(n): at for n, at in conn.execute(query) if at is not None}


def _overdue(conn: Connection, issue_id: int, due: datetime) -> list[tuple[datetime, int]]:
    """The issue's waves before ``due`` with rows still waiting (the index of the waves' rows)."""
    query = (
        select(deliveries.c.wave, func.count())
        .where(
            deliveries.c.issue_id == issue_id,
            deliveries.c.span.in_(issue_spans(conn, issue_id)),
            IS_WAITING,
            deliveries.c.wave < due,
        )
        .group_by(deliveries.c.wave)
        .order_by(deliveries.c.wave)
    )
    return [(wave, int(n)) for wave, n in conn.execute(query)]
