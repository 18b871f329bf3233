"""The per-recipient send ledger: every state change of a delivery is its own transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Engine, and_, case, func, literal, not_, or_, select
from sqlalchemy.sql import exists

from ..models import Subscriber
from .schema import UTCDateTime, deliveries, subscribers

PLANNED, SUBMITTED, ACCEPTED, FAILED, UNKNOWN, SUPPRESSED, SKIPPED = (
    "planned",
    "submitted",
    "accepted",
    "failed",
    "unknown",
    "suppressed",
    "skipped",
)
T = TypeVar("T")
PENDING = (PLANNED, SUBMITTED, UNKNOWN)
"""Statuses that keep an issue from being finished."""


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """One (issue, subscriber) entry of the ledger, with the subscriber's current standing."""

    subscriber_id: int
    email: str
    name: str
    status: str
    subscriber_status: str
    in_roster: bool


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a delivery attempt did to one subscriber, to be written to the ledger."""

    subscriber_id: int
    status: str
    message_id: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class UnknownChunk:
    """A chunk whose fate is unknown: its id, how many recipients, and a few of them."""

    chunk: str
    count: int
    sample: tuple[str, ...]


_ROW = (
    deliveries.c.subscriber_id,
    deliveries.c.email,
    subscribers.c.name,
    deliveries.c.status,
    subscribers.c.status,
    subscribers.c.in_roster,
)


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class LedgerRepo:
    """Reads and writes ``deliveries``; mixed into the issue repository."""

    engine: Engine

    def plan_active(self, issue_id: int, list_id: int, now: datetime, batch: int = 50_000) -> int:
        """Plan a row for every active subscriber of the list not yet in the ledger, in SQL."""
        with self.engine.connect() as conn:
            low, high = conn.execute(
                select(func.min(subscribers.c.id), func.max(subscribers.c.id)).where(
                    subscribers.c.list_id == list_id
                )
            ).one()
        if low is None:
            return 0
        added = 0
        columns = ["issue_id", "subscriber_id", "email", "status", "attempts", "segment"]
        for start in range(int(low), int(high) + 1, batch):
            chosen = select(
                literal(issue_id),
                subscribers.c.id,
                subscribers.c.email,
                literal(PLANNED),
                literal(0),
                literal(""),
                literal(now, UTCDateTime()),
            ).where(
                subscribers.c.list_id == list_id,
                subscribers.c.status == "active",
                subscribers.c.in_roster.is_(True),
                subscribers.c.id >= start,
                subscribers.c.id < start + batch,
                not_(
                    exists().where(
                        deliveries.c.issue_id == issue_id,
                        deliveries.c.subscriber_id == subscribers.c.id,
                    )
                ),
            )
            with self.engine.begin() as conn:
                result = conn.execute(
                    deliveries.insert().from_select([*columns, "updated_at"], chosen)
                )
                added += max(result.rowcount, 0)
        return added

    def plan(
        self,
        issue_id: int,
        recipients: Iterable[Subscriber],
        now: datetime,
        segment_of: Callable[[Subscriber], str] | None = None,
    ) -> int:
        """Plan a row per recipient not yet in the ledger, each in its rendering's segment."""
        added = 0
        for batch in _batches(recipients, 1000):
            with self.engine.begin() as conn:
                have = set(
                    conn.execute(
                        select(deliveries.c.subscriber_id).where(
                            deliveries.c.issue_id == issue_id,
                            deliveries.c.subscriber_id.in_([s.id for s in batch]),
                        )
                    ).scalars()
                )
                rows = [
                    {
                        "issue_id": issue_id,
                        "subscriber_id": s.id,
                        "email": s.email,
                        "status": PLANNED,
                        "attempts": 0,
                        "segment": segment_of(s) if segment_of else "",
                        "updated_at": now,
                    }
                    for s in batch
                    if s.id not in have
                ]
                if rows:
                    conn.execute(deliveries.insert(), rows)
            added += len(rows)
        return added

    def segments(self, issue_id: int) -> list[str]:
        """The renderings the issue's ledger rows ask for."""
        with self.engine.connect() as conn:
            return sorted(
                conn.execute(
                    select(deliveries.c.segment).where(deliveries.c.issue_id == issue_id).distinct()
                ).scalars()
            )

    def pending_ids(
        self, issue_id: int, segment: str, status: str = PLANNED, batch: int = 1000
    ) -> Iterator[list[int]]:
        """Subscriber ids in ``status`` of one segment, streamed in id order, ``batch`` a time."""
        last = 0
        while True:
            with self.engine.connect() as conn:
                ids = list(
                    conn.execute(
                        select(deliveries.c.subscriber_id)
                        .where(
                            deliveries.c.issue_id == issue_id,
                            deliveries.c.status == status,
                            deliveries.c.segment == segment,
                            deliveries.c.subscriber_id > last,
                        )
                        .order_by(deliveries.c.subscriber_id)
                        .limit(batch)
                    ).scalars()
                )
            if ids:
                yield ids
            if len(ids) < batch:
                return
            last = ids[-1]

    def claim(
        self, issue_id: int, segment: str, first: int, last: int, chunk: str, now: datetime
    ) -> tuple[list[LedgerRow], int]:
        """Claim the segment's planned rows with subscriber ids in ``[first, last]`` as ``chunk``.

        In one transaction: rows whose subscriber has left are suppressed, the rest marked
        submitted; returns the submitted rows (read fresh) and how many were suppressed.
        """
        mine = and_(
            deliveries.c.issue_id == issue_id,
            deliveries.c.subscriber_id.between(first, last),
            deliveries.c.status == PLANNED,
            deliveries.c.segment == segment,
        )
        standing = (
            select(case((subscribers.c.in_roster.is_(True), subscribers.c.status), else_="removed"))
            .where(subscribers.c.id == deliveries.c.subscriber_id)
            .scalar_subquery()
        )
        gone = exists().where(
            subscribers.c.id == deliveries.c.subscriber_id,
            or_(subscribers.c.status != "active", subscribers.c.in_roster.is_(False)),
        )
        with self.engine.begin() as conn:
            suppressed = conn.execute(
                deliveries.update()
                .where(mine, gone)
                .values(status=SUPPRESSED, error=standing, updated_at=now)
            ).rowcount
            conn.execute(
                deliveries.update()
                .where(mine)
                .values(
                    status=SUBMITTED,
                    chunk=chunk,
                    updated_at=now,
                    attempts=deliveries.c.attempts + 1,
                )
            )
            rows = conn.execute(
                select(*_ROW)
                .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
                .where(
                    deliveries.c.issue_id == issue_id,
                    deliveries.c.subscriber_id.between(first, last),
                    deliveries.c.chunk == chunk,
                    deliveries.c.status == SUBMITTED,
                )
                .order_by(deliveries.c.subscriber_id)
            ).all()
        return [LedgerRow(*r) for r in rows], max(suppressed, 0)

    def record(self, issue_id: int, chunk: str, outcomes: Sequence[Outcome], now: datetime) -> None:
        """Write a chunk's outcomes (``retry`` goes back to planned) in one transaction."""
        groups: dict[tuple[str, str | None, str | None], list[int]] = defaultdict(list)
        for o in outcomes:
            status = PLANNED if o.status == "retry" else o.status
            groups[(status, o.message_id, o.error)].append(o.subscriber_id)
        if not groups:
            return
        common = max(groups, key=lambda k: len(groups[k]))
        ours = and_(
            deliveries.c.issue_id == issue_id,
            deliveries.c.subscriber_id.between(
                min(o.subscriber_id for o in outcomes), max(o.subscriber_id for o in outcomes)
            ),
            deliveries.c.chunk == chunk,
            deliveries.c.status == SUBMITTED,
        )
        with self.engine.begin() as conn:
            for (status, message_id, error), ids in groups.items():
                if (status, message_id, error) == common:
                    continue
                for part in _batches(ids, 500):
                    conn.execute(
                        deliveries.update()
                        .where(ours, deliveries.c.subscriber_id.in_(part))
                        .values(status=status, message_id=message_id, error=error, updated_at=now)
                    )
            status, message_id, error = common  # the rest of the chunk, in one statement
            conn.execute(
                deliveries.update()
                .where(ours)
                .values(status=status, message_id=message_id, error=error, updated_at=now)
            )

    def interrupted(self, issue_id: int, resend: bool, now: datetime) -> int:
        """Rows a crash left ``submitted``: planned again if resending is safe, else unknown."""
        values = (
            {"status": PLANNED}
            if resend
            else {"status": UNKNOWN, "error": "interrupted after submit: may have been sent"}
        )
        with self.engine.begin() as conn:
            return max(
                conn.execute(
                    deliveries.update()
                    .where(deliveries.c.issue_id == issue_id, deliveries.c.status == SUBMITTED)
                    .values(updated_at=now, **values)
                ).rowcount,
                0,
            )

    def unknown(self, issue_id: int, sample: int = 5) -> list[UnknownChunk]:
        """The issue's unknown rows, by chunk, with a few addresses of each."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(deliveries.c.chunk, deliveries.c.email)
                .where(deliveries.c.issue_id == issue_id, deliveries.c.status == UNKNOWN)
                .order_by(deliveries.c.chunk, deliveries.c.subscriber_id)
            ).all()
        by_chunk: dict[str, list[str]] = defaultdict(list)
        for chunk, email in rows:
            by_chunk[chunk or "-"].append(email)
        return [UnknownChunk(c, len(e), tuple(e[:sample])) for c, e in by_chunk.items()]

    def resolve(
        self, issue_id: int, resend: bool, now: datetime, chunks: Sequence[str] = ()
    ) -> int:
        """Ops' decision on unknown rows: plan them again, or mark them skipped."""
        where = [deliveries.c.issue_id == issue_id, deliveries.c.status == UNKNOWN]
        if chunks:
            where.append(deliveries.c.chunk.in_(list(chunks)))
        values = {"status": PLANNED} if resend else {"status": SKIPPED}
        with self.engine.begin() as conn:
            return max(
                conn.execute(
                    deliveries.update().where(*where).values(updated_at=now, **values)
                ).rowcount,
                0,
            )

    def counts(self, issue_id: int) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(deliveries.c.status, func.count())
                .where(deliveries.c.issue_id == issue_id)
                .group_by(deliveries.c.status)
            ).all()
        return {str(status): int(n) for status, n in rows}

    def reasons(self, issue_id: int, status: str = FAILED) -> list[tuple[str, int]]:
        """Why rows ended in ``status``: each distinct error and how many rows have it."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(deliveries.c.error, func.count())
                .where(deliveries.c.issue_id == issue_id, deliveries.c.status == status)
                .group_by(deliveries.c.error)
                .order_by(func.count().desc())
            ).all()
        return [(str(error or "no reason given"), int(n)) for error, n in rows]
