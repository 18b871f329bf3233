"""The ledger as seen by chunks sent on workers: each chunk's lease in ``chunk_leases``.

A worker's chunk is known by its id's prefix (``chunk_prefix``), the same for every delivery
of one Celery task. Each delivery claims its rows under a lease that its worker renews while
it sends (``lease_until``). Rows in hand (``claimed``/``submitted``) with that prefix belong to
an earlier delivery of the task; while its lease runs, that delivery may still be sending, so
nobody decides about them. Once it has run out, the worker holding them is taken as dead:
``submitted`` rows become ``unknown`` (or planned again for an idempotent backend), exactly
as a single-process resume decides, and ``claimed`` rows (never attempted) are planned again.
A chunk claimed without a lease (by a digest before leases were written) is judged by its
rows' last write instead. No decision looks at a process id or a host.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Connection, Engine, and_, exists, func, not_, or_, select

from .ledger_sql import CLAIMED, IN_HAND, PLANNED, SUBMITTED, UNKNOWN, WAITING
from .schema import chunk_leases, deliveries

LOST = "worker lost after submit: may have been sent"


class RangeState(NamedTuple):
    """Where one chunk's range stands: finished for this round, and its rows by outcome."""

    done: bool
    tally: dict[str, int]


class ChunkLedger:
    """Lease checks and progress for chunks that workers send; SQLAlchemy Core only."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def release(
        self,
        issue_id: int,
        segment: str,
        first: int,
        last: int,
        prefix: str,
        before: datetime,
        resend: bool,
        now: datetime,
    ) -> int:
        """Decide about rows an earlier delivery of this chunk left in hand, once its lease is out.

        Returns how many rows are still held under a live lease (0: the range is free).
        """

        def held(table: Any) -> ColumnElement[bool]:
            return and_(
                table.c.issue_id == issue_id,
                table.c.segment == segment,
                table.c.subscriber_id.between(first, last),
                table.c.chunk.startswith(prefix, autoescape=True),
                table.c.status.in_(IN_HAND),
            )

        def count() -> int:
            with self.engine.connect() as conn:
                return int(conn.execute(select(func.count()).where(held(deliveries))).scalar_one())

        # the first delivery of a task (nearly every one) finds nothing held: one read
        if not count():
            return 0
        other = deliveries.alias("live")
        live = exists().where(held(other), _live(other, before, now))
        with self.engine.begin() as conn:  # writes first: no read lock to upgrade on SQLite
            _settle(conn, and_(held(deliveries), not_(live)), resend, now)
        return count()

    def stale(self, issue_id: int, before: datetime, resend: bool, now: datetime) -> int:
        """Settle every chunk of the issue whose rows in hand all predate ``before``.

        Returns how many ``submitted`` rows that made ``unknown`` (or planned, with ``resend``).
        """
        other = deliveries.alias("live")
        live = exists().where(
            other.c.issue_id == issue_id,
            other.c.chunk == deliveries.c.chunk,
            other.c.status.in_(IN_HAND),
            _live(other, before, now),
        )
        in_hand = and_(deliveries.c.issue_id == issue_id, deliveries.c.status.in_(IN_HAND))
        with self.engine.begin() as conn:
            return _settle(conn, and_(in_hand, not_(live)), resend, now)

    def state(
        self,
        issue_id: int,
        segment: str,
        ids: Sequence[tuple[int, int]],
        prefix: str,
        wave: datetime | None = None,
    ) -> RangeState:
        """Whether the chunk sent as ``prefix`` over ``ids`` is over, and its rows' outcomes.

        Over: none of its rows is still planned from before (unclaimed), still waiting on
        ``wave`` (a chunk of a wave's waiting rows), or in hand, by it or by another delivery
        (an earlier send's task still out). Rows it put back to planned (a retry) carry its
        prefix and count as ``retry``. Other waves' waiting rows in the range are not its.
        """
        first, last = ids[0][0], ids[-1][1]
        ours = deliveries.c.chunk.startswith(prefix, autoescape=True)
        unclaimed = (PLANNED,) if wave is None else (PLANNED, WAITING)
        theirs = deliveries.c.status != WAITING
        if wave is not None:
            theirs = or_(theirs, deliveries.c.wave == wave)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(deliveries.c.status, ours, func.count())
                .where(
                    deliveries.c.issue_id == issue_id,
                    deliveries.c.segment == segment,
                    deliveries.c.subscriber_id.between(first, last),
                    theirs,
                    or_(
                        ours,
                        deliveries.c.status.in_((*unclaimed, *IN_HAND)),
                        deliveries.c.chunk.is_(None),
                    ),
                )
                .group_by(deliveries.c.status, ours)
            ).all()
        done, tally = True, dict[str, int]()
        for status, is_ours, n in rows:
            if status in unclaimed and not is_ours:
                done = False  # not claimed yet
            elif status in IN_HAND:
                done = False
            elif is_ours or status not in (PLANNED, *IN_HAND):
                key = "retry" if status == PLANNED else str(status)
                tally[key] = tally.get(key, 0) + int(n)
        return RangeState(done, tally)


def _live(rows: Any, before: datetime, now: datetime) -> ColumnElement[bool]:
    """A row in hand is live while its chunk's lease runs; without a lease, while it was
    written after ``before``."""
    lease = (
        select(chunk_leases.c.lease_until)
        .where(chunk_leases.c.chunk == rows.c.chunk)
        .scalar_subquery()
    )
    return or_(lease >= now, and_(lease.is_(None), rows.c.updated_at >= before))


def _settle(conn: Connection, where: ColumnElement[bool], resend: bool, now: datetime) -> int:
    """In-hand rows of a dead delivery: ``claimed`` planned again, ``submitted`` decided.

    ``submitted`` first: once ``claimed`` rows are planned they no longer count as in hand.
    """
    values = {"status": PLANNED} if resend else {"status": UNKNOWN, "error": LOST}
    result = conn.execute(
        deliveries.update()
        .where(where, deliveries.c.status == SUBMITTED)
        .values(updated_at=now, **values)
    )
    conn.execute(
        deliveries.update()
        .where(where, deliveries.c.status == CLAIMED)
        .values(status=PLANNED, updated_at=now)
    )
    return max(result.rowcount, 0)
