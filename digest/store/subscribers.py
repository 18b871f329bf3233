"""Lists and subscribers: sync the roster files in, read active recipients out."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    Connection,
    Engine,
    RowMapping,
    Select,
    String,
    bindparam,
    func,
    select,
    true,
)
from sqlalchemy.exc import IntegrityError

from ..models import Subscriber
from .schema import lists, subscribers
from .statistics import refresh_after
from .suppressions import enforce

BATCH = 5000
"""New roster rows inserted per statement: bounded, so a million-row roster is not one list."""
SUPPRESSED = ("unsubscribed", "bounced", "complained")
"""Statuses recorded in the database that a roster file can never undo on its own."""


@dataclass(frozen=True, slots=True)
class SyncCounts:
    """What one roster sync changed."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    kept_suppressed: int = 0


@dataclass(frozen=True, slots=True)
class SubscriberRow:
    """One subscription as stored, with its list and bookkeeping."""

    id: int
    list_id: int
    email: str
    name: str
    areas: tuple[str, ...]
    status: str
    in_roster: bool
    subscribed_at: str
    source: str
    areas_chosen_at: datetime | None
    timezone: str | None = None


def _row(r: RowMapping) -> SubscriberRow:
    return SubscriberRow(
        id=r["id"],
        list_id=r["list_id"],
        email=r["email"],
        name=r["name"],
        areas=tuple(r["areas"] or ()),
        status=r["status"],
        in_roster=bool(r["in_roster"]),
        subscribed_at=r["subscribed_at"] or "",
        source=r["source"] or "",
        areas_chosen_at=r["areas_chosen_at"],
        timezone=r["timezone"],
    )


def _insert(conn: Connection, rows: list[dict[str, object]]) -> int:
    """Insert ``rows`` in one executemany, then empty it (a statement per row: ~20 min at 1M)."""
    if not rows:
        return 0
    conn.execute(subscribers.insert(), rows)
    count = len(rows)
    rows.clear()
    return count


def _stored(conn: Connection, list_id: int, emails: list[str]) -> dict[str, RowMapping]:
    """The stored rows of ``emails`` in the list, by address."""
    query: Select[Any]
    if conn.dialect.name == "postgresql":
        # One index probe per address, whatever the statistics say. Planned as ``email IN``,
        # a table without statistics (a first import) was taken to hold a few rows per list:
        # each batch then read the whole list, 8.7 s a batch at 1,000,000 rows; with them,
        # a scan with a hashed IN still reads it (the lateral's OFFSET keeps it a loop).
        wanted = func.unnest(bindparam("emails", emails, ARRAY(String))).table_valued("email")
        wanted = wanted.render_derived("wanted")
        stored = (
            select(*_COMPARED)
            .where(subscribers.c.list_id == list_id, subscribers.c.email == wanted.c.email)
            .offset(0)
            .lateral("stored")
        )
        query = select(stored).select_from(wanted).join(stored, true())
    else:  # SQLite takes the (list, email) index for this on its own
        query = select(*_COMPARED).where(
            subscribers.c.list_id == list_id, subscribers.c.email.in_(emails)
        )
    return {r["email"]: r for r in conn.execute(query).mappings()}


def _extras(sub: Subscriber) -> dict[str, str | None]:
    return {"subscribed_at": sub.subscribed_at, "source": sub.source, "timezone": sub.timezone}


_COMPARED = (
    subscribers.c.id,
    subscribers.c.email,
    subscribers.c.name,
    subscribers.c.areas,
    subscribers.c.status,
    subscribers.c.in_roster,
    subscribers.c.subscribed_at,
    subscribers.c.source,
    subscribers.c.timezone,
    subscribers.c.areas_chosen_at,
    subscribers.c.timezone_chosen_at,
)
"""What a sync compares a roster row with."""


def _new_row(list_id: int, sub: Subscriber, now: datetime) -> dict[str, object]:
    return {
        "list_id": list_id,
        "email": sub.email,
        "name": sub.name,
        "areas": list(sub.areas),
        "status": sub.status,
        "in_roster": True,
        "updated_at": now,
        "subscribed_at": sub.subscribed_at or now.date().isoformat(),
        "source": sub.source,
        "timezone": sub.timezone,
    }


def _mark_gone(conn: Connection, list_id: int, seen: set[str], now: datetime) -> int:
    """Take the list's rows whose address left the roster out of it; how many."""
    rows = conn.execute(
        select(subscribers.c.id, subscribers.c.email).where(
            subscribers.c.list_id == list_id, subscribers.c.in_roster.is_(True)
        ),
        execution_options={"yield_per": BATCH},  # this statement's alone (streamed)
    )
    gone = [{"row_id": row_id} for row_id, email in rows if email not in seen]
    if gone:
        conn.execute(
            subscribers.update()
            .where(subscribers.c.id == bindparam("row_id"))
            .values(in_roster=False, updated_at=now),
            gone,
        )
    return len(gone)


class SubscriberRepo:
    """Reads and writes ``lists`` and ``subscribers``."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._ids: dict[str, int] = {}

    def list_id(self, name: str) -> int:
        """The id of list ``name``, creating the row the first time; looked up once (ids never
        change)."""
        if name not in self._ids:
            try:
                self._ids[name] = self._list_id(name)
            except IntegrityError:  # another process created it between our read and write
                self._ids[name] = self._list_id(name)
        return self._ids[name]

    def _list_id(self, name: str) -> int:
        with self.engine.begin() as conn:
            row = conn.execute(select(lists.c.id).where(lists.c.name == name)).first()
            if row:
                return int(row[0])
            key = conn.execute(lists.insert().values(name=name)).inserted_primary_key
            assert key is not None
            return int(key[0])

    def sync(self, list_id: int, roster: Sequence[Subscriber], now: datetime) -> SyncCounts:
        """Make the database follow the roster, except that suppressions recorded here win."""
        try:
            counts = self._sync(list_id, roster, now)
        except IntegrityError:  # a concurrent sync added some rows first; redo against them
            counts = self._sync(list_id, roster, now)
        refresh_after(self.engine, subscribers, counts.added + counts.updated + counts.removed)
        return counts

    def _sync(self, list_id: int, roster: Sequence[Subscriber], now: datetime) -> SyncCounts:
        """The roster against the stored rows of its addresses, ``BATCH`` at a time: a list of
        millions is never held twice (as roster and as rows) in memory."""
        added = updated = kept = 0
        seen: set[str] = set()
        fresh: list[dict[str, object]] = []
        with self.engine.begin() as conn:
            for start in range(0, len(roster), BATCH):
                batch = roster[start : start + BATCH]
                existing = _stored(conn, list_id, [sub.email for sub in batch])
                for sub in batch:
                    seen.add(sub.email)
                    row = existing.get(sub.email)
                    if row is None:
                        fresh.append(_new_row(list_id, sub, now))
                        if len(fresh) == BATCH:
                            added += _insert(conn, fresh)
                        continue
                    status = sub.status
                    if row["status"] in SUPPRESSED and status == "active":
                        status = row["status"]
                        kept += 1
                    values = {"name": sub.name, "areas": list(sub.areas), "status": status}
                    if row["areas_chosen_at"] is not None:  # the subscriber's own choice wins
                        values["areas"] = row["areas"]
                    values.update({k: v for k, v in _extras(sub).items() if v})
                    if row["timezone_chosen_at"] is not None:  # the reader's own choice wins
                        values.pop("timezone", None)
                    if not row["in_roster"] or any(row[k] != v for k, v in values.items()):
                        conn.execute(
                            subscribers.update()
                            .where(subscribers.c.id == row["id"])
                            .values(in_roster=True, updated_at=now, **values)
                        )
                        updated += 1
            added += _insert(conn, fresh)
            removed = _mark_gone(conn, list_id, seen, now)
            kept += enforce(conn, list_id, now)
        return SyncCounts(added, updated, removed, kept)

    def find_list(self, name: str) -> int | None:
        """The id of list ``name``, or None if it was never synced."""
        with self.engine.connect() as conn:
            found = conn.execute(select(lists.c.id).where(lists.c.name == name)).scalar()
        return int(found) if found is not None else None

    def get(self, subscriber_id: int) -> SubscriberRow | None:
        with self.engine.connect() as conn:
            r = (
                conn.execute(select(subscribers).where(subscribers.c.id == subscriber_id))
                .mappings()
                .first()
            )
        return _row(r) if r else None

    def find(self, list_id: int, email: str) -> SubscriberRow | None:
        with self.engine.connect() as conn:
            r = (
                conn.execute(
                    select(subscribers).where(
                        subscribers.c.list_id == list_id, subscribers.c.email == email
                    )
                )
                .mappings()
                .first()
            )
        return _row(r) if r else None

    def rows(self, list_id: int, *, in_roster: bool | None = None) -> list[SubscriberRow]:
        """Every subscription of the list (only those in or out of the roster, if given)."""
        query = select(subscribers).where(subscribers.c.list_id == list_id)
        if in_roster is not None:
            query = query.where(subscribers.c.in_roster.is_(in_roster))
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(query.order_by(subscribers.c.id)).mappings()]

    def set_areas(self, subscriber_id: int, areas: Sequence[str], now: datetime) -> None:
        """Record the areas a subscriber chose; later roster syncs keep them."""
        with self.engine.begin() as conn:
            conn.execute(
                subscribers.update()
                .where(subscribers.c.id == subscriber_id)
                .values(areas=list(areas), areas_chosen_at=now, updated_at=now)
            )

    def set_timezone(self, subscriber_id: int, zone: str | None, now: datetime) -> None:
        """Record the zone a reader chose on the preferences page (None: the list's)."""
        with self.engine.begin() as conn:
            conn.execute(
                subscribers.update()
                .where(subscribers.c.id == subscriber_id)
                .values(timezone=zone, timezone_chosen_at=now, updated_at=now)
            )

    def zone_counts(self, list_id: int) -> dict[str | None, int]:
        """Active readers per time zone (None: no zone of their own), in one query."""
        query = (
            select(subscribers.c.timezone, func.count())
            .where(
                subscribers.c.list_id == list_id,
                subscribers.c.status == "active",
                subscribers.c.in_roster.is_(True),
            )
            .group_by(subscribers.c.timezone)
        )
        with self.engine.connect() as conn:
            return {r[0]: int(r[1]) for r in conn.execute(query)}

    def active(self, list_id: int, batch: int = 1000) -> Iterator[Subscriber]:
        """Active subscribers of the list, streamed in id order ``batch`` rows at a time."""
        last = 0
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(subscribers)
                    .where(
                        subscribers.c.list_id == list_id,
                        subscribers.c.status == "active",
                        subscribers.c.in_roster.is_(True),
                        subscribers.c.id > last,
                    )
                    .order_by(subscribers.c.id)
                    .limit(batch)
                ).mappings()
                chunk = [
                    Subscriber(
                        id=r["id"],
                        email=r["email"],
                        name=r["name"],
                        areas=tuple(r["areas"] or ()),
                        status=r["status"],
                        timezone=r["timezone"],
                    )
                    for r in rows
                ]
            yield from chunk
            if len(chunk) < batch:
                return
            last = chunk[-1].id or last

    def count_active(self, list_id: int) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).where(
                        subscribers.c.list_id == list_id,
                        subscribers.c.status == "active",
                        subscribers.c.in_roster.is_(True),
                    )
                ).scalar_one()
            )

    def status(self, subscriber_id: int) -> str:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(subscribers.c.status, subscribers.c.in_roster).where(
                    subscribers.c.id == subscriber_id
                )
            ).first()
        if row is None:
            return "removed"
        return str(row[0]) if row[1] else "removed"

    def set_status(self, subscriber_id: int, status: str, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                subscribers.update()
                .where(subscribers.c.id == subscriber_id)
                .values(status=status, updated_at=now)
            )
