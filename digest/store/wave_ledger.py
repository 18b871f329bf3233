"""The ledger of a list sent in its readers' zones; mixed into the issue repository.

The first wave that sends plans a row for every reader at once (``LedgerRepo.plan_active``
with a ``Placing``), each on its wave: ``planned`` when that run sends it, else ``waiting``.
Each later wave then only touches its own rows and the few readers who changed since the
freeze: it moves theirs (``plan_changed``), and its chunks claim its waves' rows still
``waiting`` directly (``LedgerRepo.claim`` with a wave), with no update of them before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import Engine, and_, select
from sqlalchemy.exc import IntegrityError

from ..models import IssueRow, Subscriber
from .ledger_sql import IS_WAITING, PLANNED, WAITING
from .schema import deliveries, issues, subscribers
from .zones import UNPLACED, Placing, issue_spans, lock_waves


class WaveLedgerRepo:
    """Plans, moves and releases the rows of an issue sent in waves."""

    engine: Engine
    plan_active: Callable[..., int]
    plan: Callable[..., int]

    def plan_waves(
        self,
        issue: IssueRow,
        placing: Placing,
        now: datetime,
        segment_of: Callable[[Subscriber], str] | None,
        active: Callable[[int], Iterable[Subscriber]],
    ) -> None:
        """The ledger of one wave's run: every reader's row on its wave at the freeze (once),
        then rows for readers who joined or moved since; its waves' rows stay ``waiting``
        until its chunks claim them.

        ``active`` streams the list's active subscribers, for an issue in segments."""
        if issue.planned_at is None:
            if segment_of is None:
                self.plan_active(issue.id, issue.list_id, now, placing=placing)
                self.place_unknown(issue.id, placing, now)
            else:
                self.plan(issue.id, active(issue.list_id), now, segment_of, placing)
            self.mark_planned(issue.id, now)
        since = issue.planned_at or now
        self.plan_changed(issue.id, issue.list_id, since, now, placing, segment_of)

    def waiting_segments(
        self, issue_id: int, waves: Iterable[datetime]
    ) -> list[tuple[datetime, str]]:
        """The (wave, segment) pairs of ``waves`` with rows still waiting, in time order."""
        with self.engine.connect() as conn:
            query = (
                select(deliveries.c.wave, deliveries.c.segment)
                .where(
                    deliveries.c.issue_id == issue_id,
                    deliveries.c.span.in_(issue_spans(conn, issue_id)),
                    deliveries.c.wave.in_(sorted(waves)),
                    IS_WAITING,
                )
                .distinct()
            )
            return sorted((w, str(s)) for w, s in conn.execute(query))

    def mark_planned(self, issue_id: int, now: datetime) -> None:
        """Every reader active at the freeze has a row: later waves plan only changes."""
        with self.engine.begin() as conn:
            conn.execute(issues.update().where(issues.c.id == issue_id).values(planned_at=now))

    def place_unknown(self, issue_id: int, placing: Placing, now: datetime) -> int:
        """Put rows whose zone the plan did not know (added as it was made) on their wave."""
        with self.engine.begin() as conn:
            lock_waves(conn, issue_id)
            query = (
                select(deliveries.c.id, subscribers.c.timezone)
                .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
                .where(
                    deliveries.c.issue_id == issue_id,
                    deliveries.c.span.in_(issue_spans(conn, issue_id)),
                    deliveries.c.wave == UNPLACED,
                )
            )
            rows = conn.execute(query).all()
            for row_id, zone in rows:
                wave = placing.slot(placing.zone(zone))
                conn.execute(
                    deliveries.update()
                    .where(deliveries.c.id == row_id, deliveries.c.status == WAITING)
                    .values(wave=wave, updated_at=now, status=_status(placing, wave))
                )
        return len(rows)

    def plan_changed(
        self,
        issue_id: int,
        list_id: int,
        since: datetime,
        now: datetime,
        placing: Placing,
        segment_of: Callable[[Subscriber], str] | None = None,
    ) -> int:
        """Readers added or changed since ``since`` (the freeze): a row for each new active
        one, and a row still waiting moved when its reader's zone now has another wave, both
        on ``placing.target``. Rows already released or sent stay as they are: one copy.

        Returns how many rows were added or moved. From the (list_id, updated_at) index.
        """
        try:
            return self._plan_changed(issue_id, list_id, since, now, placing, segment_of)
        except IntegrityError:  # another wave's run added one of them first: redo
            return self._plan_changed(issue_id, list_id, since, now, placing, segment_of)

    def _plan_changed(
        self,
        issue_id: int,
        list_id: int,
        since: datetime,
        now: datetime,
        placing: Placing,
        segment_of: Callable[[Subscriber], str] | None,
    ) -> int:
        row = and_(
            deliveries.c.issue_id == issue_id, deliveries.c.subscriber_id == subscribers.c.id
        )
        query = (
            select(subscribers, deliveries.c.id.label("row_id"), deliveries.c.wave.label("wave"))
            .add_columns(deliveries.c.status.label("row_status"))
            .outerjoin(deliveries, row)
            .where(subscribers.c.list_id == list_id, subscribers.c.updated_at >= since)
        )
        done = 0
        with self.engine.begin() as conn:
            lock_waves(conn, issue_id)
            for r in conn.execute(query).mappings().all():
                zone = placing.zone(r["timezone"])
                if r["row_id"] is None:
                    if r["status"] != "active" or not r["in_roster"]:
                        continue
                    sub = Subscriber(
                        r["email"], r["name"], tuple(r["areas"] or ()), id=r["id"], timezone=zone
                    )
                    wave = placing.target(zone)
                    conn.execute(
                        deliveries.insert().values(
                            issue_id=issue_id, subscriber_id=r["id"], email=r["email"],
                            status=_status(placing, wave), attempts=0, wave=wave,
                            segment=segment_of(sub) if segment_of else "", updated_at=now,
                        )
                    )  # fmt: skip
                elif r["row_status"] == WAITING and placing.slot(zone) != r["wave"]:
                    wave = placing.target(zone)
                    conn.execute(
                        deliveries.update()
                        .where(deliveries.c.id == r["row_id"], deliveries.c.status == WAITING)
                        .values(wave=wave, status=_status(placing, wave), updated_at=now)
                    )
                else:
                    continue
                done += 1
        return done

    def release(self, issue_id: int, waves: Iterable[datetime], now: datetime) -> int:
        """Make the waiting rows of ``waves`` planned: this run sends them."""
        with self.engine.begin() as conn:
            lock_waves(conn, issue_id)
            result = conn.execute(
                deliveries.update()
                .where(
                    deliveries.c.issue_id == issue_id,
                    deliveries.c.span.in_(issue_spans(conn, issue_id)),
                    deliveries.c.wave.in_(sorted(waves)),
                    deliveries.c.status == WAITING,
                )
                .values(status=PLANNED, updated_at=now),
                execution_options={"preserve_rowcount": True},
            )
        return max(result.rowcount, 0)


def _status(placing: Placing, wave: datetime) -> str:
    return PLANNED if wave in placing.released else WAITING
