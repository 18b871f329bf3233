"""Per-source state and health: conditional-GET validators, failures, last success."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, select

from .schema import sources


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """How a source has been doing."""

    name: str
    last_attempt: datetime | None
    last_success: datetime | None
    consecutive_failures: int
    last_error: str | None
    disabled: bool


class SourceRepo:
    """Reads and writes the ``sources`` table."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def state(self, name: str) -> dict[str, str]:
        with self.engine.connect() as conn:
            row = conn.execute(select(sources.c.state).where(sources.c.name == name)).first()
        return dict(row[0]) if row and row[0] else {}

    def health(self) -> list[SourceHealth]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(sources).order_by(sources.c.name)).mappings().all()
        return [
            SourceHealth(
                name=r["name"],
                last_attempt=r["last_attempt"],
                last_success=r["last_success"],
                consecutive_failures=r["consecutive_failures"],
                last_error=r["last_error"],
                disabled=r["disabled"],
            )
            for r in rows
        ]

    def enable(self, name: str) -> bool:
        """Switch a disabled source back on; False when the store has never seen it."""
        with self.engine.begin() as conn:
            done = conn.execute(
                sources.update()
                .where(sources.c.name == name)
                .values(disabled=False, consecutive_failures=0)
            )
        return bool(done.rowcount)

    def is_disabled(self, name: str) -> bool:
        with self.engine.connect() as conn:
            row = conn.execute(select(sources.c.disabled).where(sources.c.name == name)).first()
        return bool(row and row[0])


def record_in(
    conn: Connection,
    name: str,
    at: datetime,
    *,
    error: str | None,
    state: Mapping[str, str] | None = None,
    disabled: bool = False,
    skipped: tuple[str, ...] = (),
) -> None:
    """Record one attempt's outcome in the caller's transaction; keep the old state when
    ``state`` is None.

    An attempt that read the source but ``skipped`` items still succeeded, and leaves what it
    skipped as ``last_error`` with no failure counted: health shows it.
    """
    row = conn.execute(select(sources).where(sources.c.name == name)).mappings().first()
    values: dict[str, object] = {"last_attempt": at, "disabled": disabled}
    if state is not None:
        values["state"] = dict(state)
    if error is None:
        values.update(last_success=at, consecutive_failures=0, last_error=None)
        if skipped:
            more = f" (and {len(skipped) - 1} more)" if len(skipped) > 1 else ""
            values["last_error"] = f"skipped {len(skipped)}: {skipped[0]}{more}"
    else:
        failures = (row["consecutive_failures"] if row else 0) + 1
        values.update(consecutive_failures=failures, last_error=error)
    if row is None:
        values.setdefault("state", {})
        values.setdefault("consecutive_failures", 0)
        conn.execute(sources.insert().values(name=name, **values))
    else:
        conn.execute(sources.update().where(sources.c.name == name).values(**values))
