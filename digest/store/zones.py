"""Where a wave-sent issue's ledger rows go: ``Placing``, the SQL that reads a row's wave
from its reader's zone, the spans its queries name, and the lock that takes two runs of one
issue's waves in turn."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    String,
    func,
    literal,
    select,
    union_all,
)

from .columns import UTCSeconds
from .schema import SPAN, deliveries, subscribers

UNPLACED = datetime(1970, 1, 1, tzinfo=UTC)
"""The wave the freeze gives a reader whose zone the plan did not know (one who joined as
it was made): ``place_unknown`` puts the row on its wave right after, in Python. A value, not
NULL: the index of waves holds only rows with one, and finds these there."""


@dataclass(frozen=True, slots=True)
class Placing:
    """The waves of one run of a list sent in its readers' zones, as the ledger needs them."""

    default: str
    """The list's zone: readers without one of their own are read in it."""
    zones: tuple[str, ...]
    """The zones known when the plan was made: their waves are written in SQL (others in
    Python, after)."""
    slot: Callable[[str], datetime]
    """The wave a reader in a zone belongs to (the frozen plan's)."""
    target: Callable[[str], datetime]
    """The wave a reader who joined or moved after the freeze is sent with: their zone's wave
    while it is still ahead, else the wave running now."""
    released: frozenset[datetime]
    """The waves this run sends: its own, and earlier ones that were held or never ran."""

    def zone(self, zone: str | None) -> str:
        return zone or self.default

    def row(self, zone: str | None, planned: str, waiting: str) -> dict[str, object]:
        """A ledger row's wave and status for a reader in ``zone``, planned on their slot."""
        wave = self.slot(self.zone(zone))
        return {"status": planned if wave in self.released else waiting, "wave": wave}


def spans(first: int, last: int) -> list[int]:
    """The spans of subscriber ids ``first`` to ``last`` (``deliveries.span``)."""
    return list(range(first // SPAN, last // SPAN + 1))


def issue_spans(conn: Connection, issue_id: int) -> list[int]:
    """The spans the issue's rows lie in, from its lowest and highest subscriber id (two reads
    of the unique (issue, subscriber) index): what a query of its waves' rows names, so that
    it seeks each span's part of the index of the waves instead of reading all of it."""
    ends = [
        # one aggregate per SELECT: SQLite reads a min() or a max() alone off the index, but
        # reads every row of the issue for both at once (80 ms at 1,000,000 rows)
        select(end(deliveries.c.subscriber_id))
        .where(deliveries.c.issue_id == issue_id)
        .scalar_subquery()
        for end in (func.min, func.max)
    ]
    low, high = conn.execute(select(*ends)).one()
    return [] if low is None else spans(int(low), int(high))


WAVES_LOCK = 0x6467_7776
"""The first key of the PostgreSQL advisory lock on an issue's waiting rows (the second is
the issue's id)."""


def lock_waves(conn: Connection, issue_id: int, *, shared: bool = False) -> None:
    """Hold the issue's waiting rows for this transaction: runs of two of its waves at once
    (a second scheduler, a wave that overran) then move and release them in turn.

    Moving readers who changed zone, releasing a wave and claiming a wave's chunk each lock
    the same waiting rows, in orders of their own (by reader, by wave, by id range): two at
    once can deadlock on PostgreSQL. Claims take the lock ``shared``: chunks of the waves
    being sent are claimed side by side, and wait only for a move or a release. SQLite
    writes one transaction at a time already.
    """
    if conn.dialect.name == "postgresql":
        lock = func.pg_advisory_xact_lock_shared if shared else func.pg_advisory_xact_lock
        conn.execute(select(lock(WAVES_LOCK, issue_id)))


FREEZE_CACHE_KIB = 65_536
"""SQLite's page cache while the freeze writes (64 MiB; its default is 2 MiB)."""


@contextmanager
def freeze_cache(conn: Connection, wanted: bool = True) -> Iterator[None]:
    """On SQLite, a page cache of ``FREEZE_CACHE_KIB`` on ``conn`` until the block ends.

    The freeze writes each span of readers in wave order, so the unique (issue, reader)
    index takes its rows at as many places as there are waves, not at its end: with 2 MiB
    its pages left the cache between one place and the next (at 1,000,000 readers in 28
    waves the freeze took 1.1 s beyond writing the rows without waves, 0.6 to 0.7 s with
    64 MiB, medians of three).
    """
    if not wanted or conn.dialect.name != "sqlite":
        yield
        return
    sqlite = conn.connection.driver_connection  # PRAGMAs on it begin no transaction
    assert sqlite is not None
    (before,) = sqlite.execute("PRAGMA cache_size").fetchone()
    sqlite.execute(f"PRAGMA cache_size = -{FREEZE_CACHE_KIB}")
    try:
        yield
    finally:
        sqlite.execute(f"PRAGMA cache_size = {int(before)}")  # and frees what it held


class ZoneWaves(NamedTuple):
    """Subscribers joined to their zone's wave, and a ledger row's wave and status from it."""

    source: FromClause
    wave: ColumnElement[Any]
    status: ColumnElement[str]


def zone_waves(placing: Placing, planned: str, waiting: str) -> ZoneWaves:
    """Each subscriber's wave from their zone (``UNPLACED`` for a zone the plan did not know), and
    ``planned`` when this run sends that wave, else ``waiting``.

    A join with a table of the zones, not a CASE over them: SQLite then writes a
    million rows on their waves nearly as fast as without (a CASE of 40 zones costs +65%).
    """
    unplaced = literal(UNPLACED, UTCSeconds())
    if not placing.zones:
        return ZoneWaves(subscribers, unplaced, literal(waiting))
    rows = [
        (z, placing.slot(z), planned if placing.slot(z) in placing.released else waiting)
        for z in dict.fromkeys(placing.zones)
    ]
    table = union_all(
        *(
            select(
                literal(z, String).label("zone"),
                literal(wave, UTCSeconds()).label("wave"),
                literal(status, String).label("status"),
            )
            for z, wave, status in rows
        )
    ).subquery("zone_waves")  # not a CTE: SQLite's rowcount ignores a WITH ... INSERT
    zone = func.coalesce(subscribers.c.timezone, placing.default)
    joined = subscribers.outerjoin(table, table.c.zone == zone)
    wave = func.coalesce(table.c.wave, unplaced, type_=UTCSeconds())
    return ZoneWaves(joined, wave, func.coalesce(table.c.status, waiting))
