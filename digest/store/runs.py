"""Runs of a list's job, the one-run-per-period claim, schedule overrides and heartbeats.

The claim is a row with a unique (list, period) key: whoever inserts it runs the period;
anyone else sees the claim and stands down. A claim whose lease has expired (its owner died
mid-run, on this host or another) may be taken over, and the send ledger makes the takeover
resume, not repeat. Only the lease decides: no process id is ever looked at.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, RowMapping, Table, and_, case, or_, select
from sqlalchemy.exc import IntegrityError

from ..models import Window
from .schedules import ScheduleRows
from .schema import period_claims, runs, wave_claims
from .wave_claims import WaveClaimReads


@dataclass(frozen=True, slots=True)
class Run:
    """One attempt at one list's period."""

    id: int
    list_name: str
    window: Window
    trigger: str
    outcome: str
    detail: str | None
    issue_number: int | None
    counts: dict[str, int]
    started_at: datetime
    finished_at: datetime | None
    destination: str | None = None
    """Where the run's messages went: the backend and its outbox folder or host."""
    owner: str | None = None
    wave: datetime | None = None
    """The wave this run sent, for a list sent in its readers' zones (None: the period)."""


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a (list, period) claim, how the claim stands, and until when."""

    outcome: str
    owner: str | None
    lease_until: datetime | None
    trigger: str
    started_at: datetime


def _run(row: RowMapping) -> Run:
    return Run(
        id=row["id"],
        list_name=row["list_name"],
        window=Window(row["period_start"], row["period_end"]),
        trigger=row["trigger"],
        outcome=row["outcome"],
        detail=row["detail"],
        issue_number=row["issue_number"],
        counts=dict(row["counts"] or {}),
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        destination=row["destination"],
        owner=row["owner"],
        wave=row["wave"],
    )


def _claims(
    list_name: str, window: Window, wave: datetime | None
) -> tuple[Table, ColumnElement[bool]]:
    """The claim table and the key of one (list, period) or (list, period, wave) claim."""
    if wave is None:
        return period_claims, and_(
            period_claims.c.list_name == list_name, period_claims.c.period_start == window.start
        )
    return wave_claims, and_(
        wave_claims.c.list_name == list_name,
        wave_claims.c.period_start == window.start,
        wave_claims.c.wave == wave,
    )


class RunRepo(WaveClaimReads, ScheduleRows):
    """Reads and writes runs, claims, schedule overrides and heartbeats."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def claim(
        self,
        list_name: str,
        window: Window,
        trigger: str,
        owner: str,
        now: datetime,
        lease: timedelta,
        *,
        retake: tuple[str, ...] = ("held", "failed", "interrupted"),
        wave: datetime | None = None,
    ) -> Run | None:
        """Start a run of the period (or of one of its waves), or None when another run has
        it or it is done."""
        until = now + lease
        table, key = _claims(list_name, window, wave)
        extra = {} if wave is None else {"wave": wave}
        run_row = {
            "list_name": list_name,
            "period_start": window.start,
            "period_end": window.end,
            "trigger": trigger,
            "outcome": "running",
            "owner": owner,
            "started_at": now,
            "lease_until": until,
            **extra,
        }
        claim_row = {"outcome": "running", "owner": owner, "lease_until": until}
        try:
            with self.engine.begin() as conn:
                run_id = self._insert_run(conn, run_row)
                conn.execute(
                    table.insert().values(
                        list_name=list_name,
                        period_start=window.start,
                        period_end=window.end,
                        run_id=run_id,
                        **extra,
                        **claim_row,
                    )
                )
            return self.get(run_id)
        except IntegrityError:
            pass  # the period is claimed already: take it over only if that claim is stale
        stale = or_(
            table.c.outcome.in_(retake),
            and_(table.c.outcome == "running", table.c.lease_until < now),
        )
        with self.engine.begin() as conn:
            taken = conn.execute(table.update().where(key, stale).values(**claim_row))
            if not taken.rowcount:
                return None
            run_id = self._insert_run(conn, run_row)
            conn.execute(table.update().where(key).values(run_id=run_id))
        return self.get(run_id)

    @staticmethod
    def _insert_run(conn: Connection, values: dict[str, Any]) -> int:
        key = conn.execute(runs.insert().values(**values)).inserted_primary_key
        assert key is not None
        return int(key[0])

    def claimed(self, list_name: str, window: Window, wave: datetime | None = None) -> str | None:
        """The outcome recorded for the period (or wave), or None if nobody has claimed it."""
        table, key = _claims(list_name, window, wave)
        with self.engine.connect() as conn:
            row = conn.execute(select(table.c.outcome).where(key)).first()
        return str(row[0]) if row else None

    def running(self) -> list[tuple[str, Window, str | None, datetime | None]]:
        """Claims running or interrupted by a shutdown: (list, period, owner, lease end)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    period_claims.c.list_name,
                    period_claims.c.period_start,
                    period_claims.c.period_end,
                    period_claims.c.owner,
                    period_claims.c.lease_until,
                ).where(period_claims.c.outcome.in_(("running", "interrupted")))
            ).all()
        return [(r[0], Window(r[1], r[2]), r[3], r[4]) for r in rows]

    def holder(self, list_name: str, window: Window, wave: datetime | None = None) -> Holder | None:
        """The period's (or wave's) claim and the run holding it; None if nobody claimed it."""
        table, key = _claims(list_name, window, wave)
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    table.c.outcome,
                    table.c.owner,
                    table.c.lease_until,
                    runs.c.trigger,
                    runs.c.started_at,
                )
                .join(runs, runs.c.id == table.c.run_id)
                .where(key)
            ).first()
        return Holder(*row) if row else None

    def renew(self, run_id: int, owner: str, until: datetime) -> bool:
        """Extend the lease of a running claim; False if the claim is no longer ours.

        A claim this run has already finished stays ours but gets no lease again.
        """
        with self.engine.begin() as conn:
            n = sum(
                conn.execute(
                    table.update()
                    .where(table.c.run_id == run_id, table.c.owner == owner)
                    .values(
                        lease_until=case(
                            (table.c.outcome == "running", until), else_=table.c.lease_until
                        )
                    )
                ).rowcount
                for table in (period_claims, wave_claims)
            )
            conn.execute(
                runs.update()
                .where(runs.c.id == run_id, runs.c.finished_at.is_(None))
                .values(lease_until=until)
            )
        return bool(n)

    def finish(
        self,
        run_id: int,
        outcome: str,
        now: datetime,
        *,
        detail: str | None = None,
        issue_number: int | None = None,
        counts: dict[str, int] | None = None,
        destination: str | None = None,
    ) -> None:
        """Record how the run ended, on the run and on its period's claim."""
        with self.engine.begin() as conn:  # claims first, then the run: as renew locks them
            for table in (period_claims, wave_claims):
                conn.execute(
                    table.update()
                    .where(table.c.run_id == run_id)
                    .values(outcome=outcome, lease_until=None)
                )
            conn.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(
                    outcome=outcome,
                    detail=detail,
                    issue_number=issue_number,
                    counts=counts or {},
                    destination=destination,
                    finished_at=now,
                    lease_until=None,
                )
            )

    def note(
        self, list_name: str, window: Window, trigger: str, outcome: str, detail: str, now: datetime
    ) -> None:
        """Record something done for a period without claiming it (e.g. a build ahead)."""
        with self.engine.begin() as conn:
            self._insert_run(
                conn,
                {
                    "list_name": list_name,
                    "period_start": window.start,
                    "period_end": window.end,
                    "trigger": trigger,
                    "outcome": outcome,
                    "detail": detail,
                    "started_at": now,
                    "finished_at": now,
                },
            )

    def noted(self, list_name: str, window: Window, trigger: str) -> bool:
        """True when a run with ``trigger`` was recorded for the period."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(runs.c.id).where(
                    runs.c.list_name == list_name,
                    runs.c.period_start == window.start,
                    runs.c.trigger == trigger,
                )
            ).first()
        return row is not None

    def record_missed(
        self,
        list_name: str,
        window: Window,
        now: datetime,
        detail: str,
        wave: datetime | None = None,
    ) -> bool:
        """Record a period (or wave) nobody ran as ``missed``; False if it had a run after all."""
        run = self.claim(
            list_name, window, "schedule", "missed", now, timedelta(0), retake=(), wave=wave
        )
        if run is None:
            return False
        self.finish(run.id, "missed", now, detail=detail)
        return True

    def get(self, run_id: int) -> Run:
        with self.engine.connect() as conn:
            row = conn.execute(select(runs).where(runs.c.id == run_id)).mappings().one()
        return _run(row)

    def history(self, list_name: str | None = None, limit: int = 50) -> list[Run]:
        query = select(runs).order_by(runs.c.id.desc()).limit(limit)
        if list_name:
            query = query.where(runs.c.list_name == list_name)
        with self.engine.connect() as conn:
            return [_run(r) for r in conn.execute(query).mappings()]

    def of_period(self, list_name: str, window: Window) -> list[Run]:
        """Every run of one period, oldest first."""
        query = (
            select(runs)
            .where(runs.c.list_name == list_name, runs.c.period_start == window.start)
            .order_by(runs.c.id)
        )
        with self.engine.connect() as conn:
            return [_run(r) for r in conn.execute(query).mappings()]

    def last_claimed_end(self, list_name: str) -> datetime | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(period_claims.c.period_end)
                .where(period_claims.c.list_name == list_name)
                .order_by(period_claims.c.period_end.desc())
                .limit(1)
            ).first()
        return row[0] if row else None
