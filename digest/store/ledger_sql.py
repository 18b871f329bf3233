"""The ledger's statuses and SQL: the statements that claim, suppress, record and step rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    and_,
    bindparam,
    case,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql import Executable, exists
from sqlalchemy.sql.dml import ReturningUpdate, Update

from .columns import UTCDateTime
from .schema import deliveries, subscribers
from .zones import Placing, zone_waves

PLANNED, CLAIMED, SUBMITTED, ACCEPTED, FAILED, UNKNOWN, SUPPRESSED, SKIPPED, WAITING = (
    "planned",
    "claimed",
    "submitted",
    "accepted",
    "failed",
    "unknown",
    "suppressed",
    "skipped",
    "waiting",
)
"""``waiting``: planned for a later wave of a list sent in its readers' zones; its wave's run
makes it ``planned``."""
IN_HAND = (CLAIMED, SUBMITTED)
"""A chunk's rows between claim and outcome: ``claimed`` ones were never attempted."""


IS_PLANNED: ColumnElement[bool] = deliveries.c.status == literal_column(f"'{PLANNED}'")
"""Written out, not bound: the partial index of planned rows serves only a literal status."""
IS_IN_HAND: ColumnElement[bool] = deliveries.c.status.in_(
    [literal_column(f"'{s}'") for s in IN_HAND]
)
"""``status IN ('claimed', 'submitted')``, word for word the partial in-hand index's."""

IS_WAITING: ColumnElement[bool] = deliveries.c.status == literal_column(f"'{WAITING}'")
"""``status = 'waiting'``, read on the index of the waves' rows (``ix_deliveries_wave``)."""

IN_WAVE = (
    deliveries.c.span.in_(bindparam("b_spans", expanding=True)),
    deliveries.c.wave == bindparam("b_wave"),
    IS_WAITING,
)
"""A wave's rows still waiting in the spans ``b_spans`` (a list sent in its readers' zones):
its run claims them without making them planned first."""


def _segment(*rows: ColumnElement[bool]) -> ColumnElement[bool]:
    """``rows`` of one issue's segment: the statements below, for planned rows or a wave's."""
    return and_(
        deliveries.c.issue_id == bindparam("b_issue"),
        deliveries.c.segment == bindparam("b_segment"),
        *rows,
    )


IN_CHUNK = deliveries.c.subscriber_id.between(bindparam("b_first"), bindparam("b_last"))
MINE, WAVE_MINE = _segment(IS_PLANNED, IN_CHUNK), _segment(*IN_WAVE, IN_CHUNK)
"""A chunk's planned rows, and a wave's chunk of its rows still waiting."""


def _suppress(mine: ColumnElement[bool]) -> Update:
    return (
        deliveries.update()
        .where(
            mine,
            exists().where(
                subscribers.c.id == deliveries.c.subscriber_id,
                or_(subscribers.c.status != "active", subscribers.c.in_roster.is_(False)),
            ),
        )
        .values(
            status=SUPPRESSED,
            updated_at=bindparam("b_now", type_=UTCDateTime()),
            error=select(
                case((subscribers.c.in_roster.is_(True), subscribers.c.status), else_="removed")
            )
            .where(subscribers.c.id == deliveries.c.subscriber_id)
            .scalar_subquery(),
        )
    )


def _submit(mine: ColumnElement[bool]) -> ReturningUpdate[Any]:
    return (
        deliveries.update()
        .where(mine)
        .values(
            status=bindparam("b_claim"),
            chunk=bindparam("b_chunk"),
            updated_at=bindparam("b_now", type_=UTCDateTime()),
            attempts=deliveries.c.attempts + 1,
        )
        .returning(
            deliveries.c.subscriber_id,
            deliveries.c.email,
            select(subscribers.c.name)
            .where(subscribers.c.id == deliveries.c.subscriber_id)
            .scalar_subquery(),
        )
    )


SUPPRESS = _suppress(MINE)
"""Rows of a chunk whose subscriber has left since planning: suppressed, with the reason."""
SUBMIT = _submit(MINE)
"""The rest of a chunk's planned rows: submitted (or claimed), returning (id, email, name)."""
WAVE_CLAIM = (_suppress(WAVE_MINE), _submit(WAVE_MINE))
"""``SUPPRESS`` and ``SUBMIT`` for a wave's chunk of waiting rows."""


OUTCOME = {
    "status": bindparam("b_status"),
    "message_id": bindparam("b_message_id"),
    "error": bindparam("b_error"),
    "updated_at": bindparam("b_now", type_=UTCDateTime()),
}
"""What recording an outcome writes, for a chunk's rows or one row alike."""
RECORD = (
    deliveries.update()
    .where(
        deliveries.c.issue_id == bindparam("b_issue"),
        # "+ 0": SQLite would read every row in the id range (every wave's), not the chunk's
        (deliveries.c.subscriber_id + 0).between(bindparam("b_first"), bindparam("b_last")),
        deliveries.c.chunk == bindparam("b_chunk"),
        IS_IN_HAND,
    )
    .values(**OUTCOME)
)
"""A chunk's rows in hand (narrowed further by the caller): their outcome."""
STEP = (
    deliveries.update()
    .where(
        deliveries.c.issue_id == bindparam("b_issue"),
        deliveries.c.subscriber_id == bindparam("b_id"),
        deliveries.c.chunk == bindparam("b_chunk"),
        deliveries.c.status.in_(IN_HAND),
    )
    .values(**OUTCOME)
)
"""One row of a chunk in hand: submitted just before its message goes out, or its outcome."""


def _pending_range(rows: ColumnElement[bool]) -> Select[Any, Any, int]:
    """The next ``b_limit`` of ``rows`` after the id ``b_after``: (first, last, how many)."""
    pending = (
        select(deliveries.c.subscriber_id)
        .where(rows, deliveries.c.subscriber_id > bindparam("b_after"))
        .order_by(deliveries.c.subscriber_id)
        .limit(bindparam("b_limit"))
        .subquery()
    )
    return select(
        func.min(pending.c.subscriber_id), func.max(pending.c.subscriber_id), func.count()
    )


PENDING_RANGE = _pending_range(_segment(IS_PLANNED))
"""The next batch of a segment's planned rows, after an id: (first, last, how many)."""
WAVE_PENDING_RANGE = _pending_range(_segment(*IN_WAVE))
"""The next batch of a wave's rows still waiting in one segment, after an id."""


def plan_rows(
    issue_id: int, list_id: int, now: datetime, placing: Placing | None, postgres: bool
) -> Executable:
    """INSERT ... SELECT of a ledger row for each active subscriber of the list with an id
    from ``b_from`` up to ``b_to`` not yet in it; with ``placing``, each on its wave, in wave
    order (each wave's rows then lie together), ``planned`` if this run sends it, else
    ``waiting``. Built once, run for each batch of ids."""
    wanted = [
        # "+ 0" keeps SQLite off the (list_id, email) index, which made it read the whole list
        # for each batch, and on the id range: 2.3 times faster at 1M rows.
        subscribers.c.list_id + 0 == list_id,
        subscribers.c.status == "active",
        subscribers.c.in_roster.is_(True),
        subscribers.c.id >= bindparam("b_from"),
        subscribers.c.id < bindparam("b_to"),
    ]
    # Rows already planned are skipped by the unique (issue, subscriber) index on PostgreSQL
    # (a NOT EXISTS there re-reads the statement's own new rows: quadratic, 130 s at 20k) and
    # at SQLite's freeze, whose rows in wave order would each be sought from the root twice,
    # by the NOT EXISTS and by the insert (0.6 s at 1M); in reader order, as without waves,
    # SQLite is faster with the NOT EXISTS (1.9 s against 2.9 s at 1M).
    if not postgres and placing is None:
        stored = exists().where(
            deliveries.c.issue_id == issue_id, deliveries.c.subscriber_id == subscribers.c.id
        )
        wanted.append(not_(stored))
    status: ColumnElement[str] = literal(PLANNED)
    extra: list[ColumnElement[Any]] = []
    source: FromClause = subscribers
    if placing is not None:
        waves = zone_waves(placing, PLANNED, WAITING)
        # ordered by its label: an ORDER BY of the expression again binds its own parameter,
        # which SQLite cannot match to the column, and computes it twice per row
        status, extra, source = waves.status, [waves.wave.label("wave")], waves.source
    chosen = select(
        literal(issue_id), subscribers.c.id, subscribers.c.email, status, literal(0),
        literal(""), literal(now, UTCDateTime()), *extra,
    ).select_from(source).where(*wanted)  # fmt: skip
    if placing is not None:
        chosen = chosen.order_by(extra[0], subscribers.c.id)
    into = ["issue_id", "subscriber_id", "email", "status", "attempts", "segment", "updated_at"]
    into += ["wave"] if extra else []
    if postgres:
        upsert = pg_insert(deliveries).from_select(into, chosen)
        return upsert.on_conflict_do_nothing(constraint="uq_delivery_once")
    if placing is not None:
        skip = sqlite_insert(deliveries).from_select(into, chosen)
        return skip.on_conflict_do_nothing(index_elements=["issue_id", "subscriber_id"])
    return deliveries.insert().from_select(into, chosen)
