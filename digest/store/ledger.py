"""The per-recipient send ledger: every state change of a delivery is its own transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from functools import partial
from itertools import islice
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Engine, and_, func, not_, select
from sqlalchemy.sql import exists

from ..models import DeliveryResult, Subscriber
from . import ledger_sql as sql
from .ledger_sql import CLAIMED, FAILED, PLANNED, SUBMITTED, UNKNOWN, WAITING
from .outage import retried
from .schema import SPAN, chunk_leases, deliveries, subscribers
from .statistics import refresh_after
from .zones import Placing, freeze_cache, issue_spans, lock_waves, spans

T = TypeVar("T")


class LedgerRow(NamedTuple):
    """One (issue, subscriber) entry of the ledger, with the subscriber's current standing."""

    subscriber_id: int
    email: str
    name: str
    status: str
    subscriber_status: str
    in_roster: bool


Outcome = DeliveryResult
"""What a delivery attempt did to one subscriber, as written to the ledger."""


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    rest = iter(items)
    while batch := list(islice(rest, size)):
        yield batch


class IdRange(NamedTuple):
    """Subscriber ids ``first`` to ``last`` (inclusive), with ``rows`` ledger rows among them."""

    first: int
    last: int
    rows: int


class LedgerRepo:
    """Reads and writes ``deliveries``; mixed into the issue repository."""

    engine: Engine

    def plan_active(
        self,
        issue_id: int,
        list_id: int,
        now: datetime,
        batch: int = SPAN,
        placing: Placing | None = None,
    ) -> int:
        """Plan a row for every active subscriber of the list not yet in the ledger, in SQL;
        with ``placing``, each on its wave, ``planned`` if this run sends it, else ``waiting``.

        Batches of ids start at multiples of ``batch``: at the default, each is one span, whose
        rows then go in at the end of the index of the waves (``ix_deliveries_wave``).
        """
        added = 0
        postgres = self.engine.dialect.name == "postgresql"
        # one connection throughout, for the freeze's page cache (see ``freeze_cache``)
        with self.engine.connect() as conn, freeze_cache(conn, placing is not None):
            low, high = conn.execute(
                select(func.min(subscribers.c.id), func.max(subscribers.c.id)).where(
                    subscribers.c.list_id == list_id
                )
            ).one()
            conn.rollback()
            if low is None:
                return 0
            insert = sql.plan_rows(issue_id, list_id, now, placing, postgres)
            for start in range(int(low) - int(low) % batch, int(high) + 1, batch):
                with conn.begin():
                    if placing is not None:
                        lock_waves(conn, issue_id)
                    # without preserve_rowcount SQLAlchemy reports -1 for an INSERT on psycopg
                    result = conn.execute(
                        insert,
                        {"b_from": start, "b_to": start + batch},
                        execution_options={"preserve_rowcount": True},
                    )
                    added += max(result.rowcount, 0)
        refresh_after(self.engine, deliveries, added)
        return added

    def plan(
        self,
        issue_id: int,
        recipients: Iterable[Subscriber],
        now: datetime,
        segment_of: Callable[[Subscriber], str] | None = None,
        placing: Placing | None = None,
    ) -> int:
        """Plan a row per recipient not yet in the ledger, each in its rendering's segment
        (and with ``placing``, on its wave: ``planned`` if this run sends it, else ``waiting``).
        """
        added = 0
        for batch in _batches(recipients, 1000):
            with self.engine.begin() as conn:
                if placing is not None:
                    lock_waves(conn, issue_id)
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
                        **(placing.row(s.timezone, PLANNED, WAITING) if placing else {}),
                    }
                    for s in batch
                    if s.id not in have
                ]
                if rows:
                    conn.execute(deliveries.insert(), rows)
            added += len(rows)
        refresh_after(self.engine, deliveries, added)
        return added

    def segments(self, issue_id: int) -> list[str]:
        """The renderings the issue's planned rows ask for (from the planned-rows index)."""
        planned = select(deliveries.c.segment).where(
            deliveries.c.issue_id == issue_id, sql.IS_PLANNED
        )
        with self.engine.connect() as conn:
            return sorted(conn.execute(planned.distinct()).scalars())

    def pending(
        self,
        issue_id: int,
        segment: str,
        status: str = PLANNED,
        batch: int = 1000,
        wave: datetime | None = None,
    ) -> Iterator[IdRange]:
        """Ranges of subscriber ids with ``batch`` rows in ``status`` of one segment, in order
        (with ``wave``: that wave's rows still waiting). Only each range's ends are read."""
        if status != PLANNED:
            raise ValueError(f"only planned rows are read in ranges, not {status!r}")
        values = {"b_issue": issue_id, "b_segment": segment, "b_wave": wave}
        if wave is not None:
            yield from self._wave_pending(values, batch)
            return
        last, values["b_limit"] = 0, batch

        def next_range(after: int) -> Any:
            with self.engine.connect() as conn:
                return conn.execute(sql.PENDING_RANGE, {**values, "b_after": after}).one()

        while True:  # a read: tried again when the database dropped the connection under it
            first, end, count = retried(partial(next_range, last), "reading the ledger")
            if count:
                yield IdRange(int(first), int(end), int(count))
            if count < batch:
                return
            last = int(end)

    def _wave_pending(self, values: dict[str, Any], batch: int) -> Iterator[IdRange]:
        """``pending`` for a wave's waiting rows: read span by span (the index of the waves is
        led by the span), a range running on from one span into the next until it has
        ``batch`` rows, so that ranges are as full as without spans."""
        with self.engine.connect() as conn:
            todo = issue_spans(conn, values["b_issue"])

        def read(span: int, after: int, limit: int) -> Any:
            params = {**values, "b_spans": [span], "b_after": after, "b_limit": limit}
            with self.engine.connect() as conn:
                return conn.execute(sql.WAVE_PENDING_RANGE, params).one()

        first = last = count = 0
        for span in todo:
            while True:
                low, high, found = retried(
                    partial(read, span, last, batch - count), "reading the ledger"
                )
                if found:
                    first = first if count else int(low)
                    last, count = int(high), count + int(found)
                if count < batch:
                    break  # the span has no more: the range runs on into the next
                yield IdRange(first, last, count)
                count = 0
        if count:
            yield IdRange(first, last, count)

    def claim(
        self,
        issue_id: int,
        segment: str,
        first: int,
        last: int,
        chunk: str,
        now: datetime,
        status: str = SUBMITTED,
        *,
        owner: str = "",
        lease_until: datetime | None = None,
        wave: datetime | None = None,
    ) -> tuple[list[LedgerRow], int]:
        """Claim the segment's planned rows with subscriber ids in ``[first, last]`` as ``chunk``
        (with ``wave``: that wave's rows still waiting, never another wave's).

        In one transaction: rows whose subscriber has left are suppressed, the rest marked
        ``status``: ``submitted`` when the chunk goes out as one request, ``claimed`` when each
        row is submitted on its own (``step``); returns those rows and how many were suppressed.
        The chunk's lease names ``owner`` and runs to ``lease_until`` (None: for as long as
        the owner holds the period's claim). The update only takes rows still ``planned``, so
        two processes (or hosts) claiming the same range split it, never share a row: on
        PostgreSQL the second waits on the first's row locks, then re-reads the status.
        """
        values = {
            "b_claim": status,
            "b_issue": issue_id,
            "b_segment": segment,
            "b_first": first,
            "b_last": last,
            "b_chunk": chunk,
            "b_now": now,
            "b_wave": wave,
            "b_spans": spans(first, last),
        }
        suppress, submit = (sql.SUPPRESS, sql.SUBMIT) if wave is None else sql.WAVE_CLAIM
        with self.engine.begin() as conn:
            if wave is not None:  # the same rows as a run moving readers: see lock_waves
                lock_waves(conn, issue_id, shared=True)
            suppressed = conn.execute(suppress, values).rowcount
            rows = sorted(conn.execute(submit, values).all(), key=lambda r: int(r[0]))
            if rows:
                conn.execute(
                    chunk_leases.insert().values(
                        chunk=chunk,
                        issue_id=issue_id,
                        owner=owner,
                        claimed_at=now,
                        lease_until=lease_until,
                    )
                )
        claimed = [LedgerRow(r[0], r[1], r[2] or "", status, "active", True) for r in rows]
        return claimed, max(suppressed, 0)

    def step(
        self,
        issue_id: int,
        chunk: str,
        done: Outcome | None,
        upcoming: int | None,
        now: datetime,
    ) -> None:
        """In one transaction: record one message's outcome, and submit the next row.

        A backend that sends one message at a time calls this between messages, so a crash
        leaves at most the message in flight ``submitted`` (unknown), never the whole chunk.
        """
        values = {"b_issue": issue_id, "b_chunk": chunk, "b_now": now}
        with self.engine.begin() as conn:
            if done is not None:
                status = PLANNED if done.status == "retry" else done.status
                conn.execute(
                    sql.STEP,
                    values
                    | {"b_id": done.subscriber_id, "b_status": status}
                    | {"b_message_id": done.message_id, "b_error": done.error},
                )
            if upcoming is not None:
                conn.execute(
                    sql.STEP,
                    values
                    | {"b_id": upcoming, "b_status": SUBMITTED}
                    | {"b_message_id": None, "b_error": None},
                )

    def record(
        self, issue_id: int, chunk: str, outcomes: Sequence[Outcome], now: datetime, segment: str
    ) -> None:
        """Write a chunk's outcomes (``retry`` goes back to planned) in one transaction; the
        ``segment`` keeps it on the status index, off the other waves' rows in the id range."""
        if not outcomes:
            return
        ids = [o.subscriber_id for o in outcomes]
        groups: dict[tuple[str, str | None, str | None], list[int]] = defaultdict(list)
        kinds = {(o.status, o.message_id, o.error) for o in outcomes}
        if len(kinds) == 1:  # the whole chunk alike: the usual case
            groups[kinds.pop()] = ids
        else:
            for o in outcomes:
                groups[o.status, o.message_id, o.error].append(o.subscriber_id)
        common = max(groups, key=lambda k: len(groups[k]))
        chunk_of = {
            "b_issue": issue_id,
            "b_chunk": chunk,
            "b_now": now,
            "b_first": min(ids),
            "b_last": max(ids),
        }

        def values(status: str, message_id: str | None, error: str | None) -> dict[str, object]:
            status = PLANNED if status == "retry" else status
            return {**chunk_of, "b_status": status, "b_message_id": message_id, "b_error": error}

        record = sql.RECORD.where(deliveries.c.segment == segment)
        with self.engine.begin() as conn:
            for kind, some in groups.items():
                if kind != common:
                    for part in _batches(some, 500):
                        where = deliveries.c.subscriber_id.in_(part)
                        conn.execute(record.where(where), values(*kind))
            conn.execute(record, values(*common))  # the rest of the chunk, in one statement

    def interrupted(self, issue_id: int, resend: bool, now: datetime) -> int:
        """Rows a crash left ``submitted``: planned again if resending is safe, else unknown.

        Rows left ``claimed`` were never attempted: planned again, and not counted. Rows of a
        chunk whose lease is still live at ``now`` are left alone: their owner (a worker on
        another host, say) is sending them and will record their outcome.
        """
        values = (
            {"status": PLANNED}
            if resend
            else {"status": UNKNOWN, "error": "interrupted after submit: may have been sent"}
        )
        mine = and_(
            deliveries.c.issue_id == issue_id,
            deliveries.c.chunk.is_not(None),  # rows in hand have one: the in-hand index
            not_(
                exists().where(
                    chunk_leases.c.chunk == deliveries.c.chunk,
                    chunk_leases.c.lease_until >= now,
                )
            ),
        )
        with self.engine.begin() as conn:
            conn.execute(
                deliveries.update()
                .where(mine, sql.IS_IN_HAND, deliveries.c.status == CLAIMED)
                .values(updated_at=now, status=PLANNED)
            )
            return max(
                conn.execute(
                    deliveries.update()
                    .where(mine, sql.IS_IN_HAND, deliveries.c.status == SUBMITTED)
                    .values(updated_at=now, **values)
                ).rowcount,
                0,
            )

    def counts(self, issue_id: int, waves: Iterable[datetime] | None = None) -> dict[str, int]:
        """Rows by status; with ``waves``, only the rows of those waves."""
        status, where = deliveries.c.status, [deliveries.c.issue_id == issue_id]
        with self.engine.connect() as conn:
            if waves is not None:
                where.append(deliveries.c.span.in_(issue_spans(conn, issue_id)))
                where.append(deliveries.c.wave.in_(sorted(waves)))
            rows = conn.execute(select(status, func.count()).where(*where).group_by(status)).all()
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
