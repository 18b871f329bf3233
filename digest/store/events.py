"""Delivery events from the email provider: suppressions, delivery stats, each event once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from .schema import delivery_stats, issues, lists, subscribers, webhook_events
from .suppressions import record, write_transaction

STATS = ("delivered", "deferred", "open", "click")


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """One provider event, already checked and classified."""

    event_id: str
    kind: str
    email: str
    at: datetime
    list_name: str | None = None
    issue_id: int | None = None
    suppress: str | None = None
    """The suppression reason this event implies (``bounced`` ...), if any."""
    detail: str = ""


def _match(conn: Connection, e: ProviderEvent) -> tuple[int, int] | None:
    """(issue id, subscriber id) of the delivery an event is about, via its custom args."""
    if e.list_name is None or e.issue_id is None:
        return None
    row = conn.execute(
        select(issues.c.id, subscribers.c.id)
        .join(lists, lists.c.id == issues.c.list_id)
        .join(subscribers, subscribers.c.list_id == lists.c.id)
        .where(
            lists.c.name == e.list_name,
            issues.c.id == e.issue_id,
            func.lower(subscribers.c.email) == e.email.lower(),
        )
    ).first()
    return (int(row[0]), int(row[1])) if row else None


def _list_id(conn: Connection, name: str | None) -> int | None:
    if name is None:
        return None
    found = conn.execute(select(lists.c.id).where(lists.c.name == name)).scalar()
    return int(found) if found is not None else None


def _bump(conn: Connection, issue_id: int, subscriber_id: int, e: ProviderEvent) -> None:
    key = (delivery_stats.c.issue_id == issue_id, delivery_stats.c.subscriber_id == subscriber_id)
    row = conn.execute(select(delivery_stats).where(*key)).mappings().first()
    if row is None:
        conn.execute(
            delivery_stats.insert().values(
                issue_id=issue_id, subscriber_id=subscriber_id, last_event_at=e.at
            )
        )
        row = conn.execute(select(delivery_stats).where(*key)).mappings().one()
    values: dict[str, object] = {"last_event_at": max(e.at, row["last_event_at"])}
    if e.kind == "delivered":
        values["delivered_at"] = row["delivered_at"] or e.at
    elif e.kind == "deferred":
        values["deferred"] = row["deferred"] + 1
    elif e.kind == "open":
        values["opens"] = row["opens"] + 1
        values["first_open_at"] = row["first_open_at"] or e.at
    elif e.kind == "click":
        values["clicks"] = row["clicks"] + 1
        values["first_click_at"] = row["first_click_at"] or e.at
    conn.execute(update(delivery_stats).where(*key).values(**values))


def _first_sight(conn: Connection, event_id: str, kind: str, now: datetime) -> bool:
    """Record an event id; False when another transaction recorded it first.

    On PostgreSQL two requests carrying the same batch run at once; ``ON CONFLICT DO NOTHING``
    waits for the other's row and then skips, where a plain insert would fail the request.
    SQLite's write lock (``write_transaction``) already serializes them.
    """
    values = {"event_id": event_id, "event": kind, "received_at": now}
    if conn.dialect.name == "postgresql":
        statement = pg_insert(webhook_events).values(**values).on_conflict_do_nothing()
        return conn.execute(statement.returning(webhook_events.c.event_id)).first() is not None
    conn.execute(webhook_events.insert().values(**values))
    return True


class EventRepo:
    """Applies provider events and reads the delivery stats they build up."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def apply(self, events: Sequence[ProviderEvent], origin: str, now: datetime) -> Counter[str]:
        """Apply new events in one transaction; counts what happened (``duplicate`` ...)."""
        counts: Counter[str] = Counter()
        with write_transaction(self.engine) as conn:
            ids = list({e.event_id for e in events})
            seen: set[str] = set()
            for start in range(0, len(ids), 500):
                part = ids[start : start + 500]
                seen.update(
                    conn.execute(
                        select(webhook_events.c.event_id).where(webhook_events.c.event_id.in_(part))
                    ).scalars()
                )
            for e in events:
                if e.event_id in seen:
                    counts["duplicate"] += 1
                    continue
                seen.add(e.event_id)
                if not _first_sight(conn, e.event_id, e.kind, now):
                    counts["duplicate"] += 1  # another request applied it since our look
                    continue
                if e.suppress is not None:
                    scope = _list_id(conn, e.list_name) if e.kind == "group_unsubscribe" else None
                    record(conn, e.email, scope, e.suppress, e.detail, origin, now)
                    counts["suppressed"] += 1
                elif e.kind in STATS:
                    match = _match(conn, e)
                    if match is None:
                        counts["unmatched"] += 1
                        continue
                    _bump(conn, *match, e)
                    counts["stats"] += 1
                else:
                    counts["ignored"] += 1
        return counts

    def issue_origin(self, issue_id: int) -> tuple[int, datetime] | None:
        """The list id and creation time of an issue, or None if there is no such issue."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(issues.c.list_id, issues.c.created_at).where(issues.c.id == issue_id)
            ).first()
        return (int(row[0]), row[1]) if row else None

    def for_delivery(self, issue_id: int, subscriber_id: int) -> dict[str, object] | None:
        """The stats row of one (issue, subscriber), or None."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(delivery_stats).where(
                        delivery_stats.c.issue_id == issue_id,
                        delivery_stats.c.subscriber_id == subscriber_id,
                    )
                )
                .mappings()
                .first()
            )
        return dict(row) if row else None

    def issue_totals(self, issue_id: int) -> dict[str, int]:
        """How many recipients of the issue were delivered, deferred, opened, clicked."""
        c = delivery_stats.c
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    func.count(c.delivered_at),
                    func.count().filter(c.deferred > 0),
                    func.count().filter(c.opens > 0),
                    func.count().filter(c.clicks > 0),
                ).where(c.issue_id == issue_id)
            ).one()
        return dict(zip(("delivered", "deferred", "opened", "clicked"), map(int, row), strict=True))
