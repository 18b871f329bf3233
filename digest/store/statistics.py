"""Fresh planner statistics after a bulk change on PostgreSQL, as its manual advises after
loading data ("Populating a Database": run ANALYZE afterwards).

Autovacuum analyzes a table only on its next look (a minute or more later), and a table it has
never analyzed is planned as holding a handful of rows. A send that follows a first import
of a million readers then read them in batches whose plans each sorted the whole list (the
keyset reads of ``SubscriberRepo.active``): quadratic, minutes at 1,000,000 rows.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine, Table, func, select, text
from sqlalchemy.exc import OperationalError, ProgrammingError

log = logging.getLogger(__name__)

THRESHOLD = 1_000
"""Changed rows below which a table's statistics are left to autovacuum."""
SCALE = 0.1
"""The share of a table's rows that, changed, makes its statistics stale (autovacuum's)."""

_ROWS = text("SELECT reltuples FROM pg_class WHERE oid = CAST(:table AS regclass)")


def refresh_after(engine: Engine, table: Table, changed: int) -> bool:
    """ANALYZE ``table`` now, on PostgreSQL, when ``changed`` rows (added, updated or removed
    in one go) are past autovacuum's own rule for it; True when it did."""
    if engine.dialect.name != "postgresql" or changed < THRESHOLD:
        return False
    try:
        with engine.begin() as conn:
            rows = float(conn.execute(_ROWS, {"table": table.name}).scalar_one())
            if rows > 0 and changed < THRESHOLD + SCALE * rows:  # -1: never analyzed
                return False
            # ANALYZE waits for another's on the table (a vacuum, a second host's): not long
            conn.execute(select(func.set_config("lock_timeout", "5s", True)))
            conn.execute(text(f"ANALYZE {table.name}"))
    except (OperationalError, ProgrammingError) as exc:  # busy, or not the table's owner
        log.info("statistics of %s left to autovacuum: %s", table.name, exc)
        return False
    return True
