"""Schedule changes ops made at run time, and the schedulers' heartbeats; mixed into
``RunRepo``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from .schema import heartbeats, schedules


@dataclass(frozen=True, slots=True)
class ScheduleOverride:
    """What ops changed about a list's schedule at run time (None: as in config)."""

    list_name: str
    cron: str | None
    timezone: str | None
    paused: bool
    since: datetime
    updated_at: datetime


class ScheduleRows:
    """Reads and writes the schedule overrides and the heartbeats."""

    engine: Engine

    def override(self, list_name: str) -> ScheduleOverride | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(schedules).where(schedules.c.list_name == list_name))
                .mappings()
                .first()
            )
        if row is None:
            return None
        return ScheduleOverride(
            row["list_name"],
            row["cron"],
            row["timezone"],
            row["paused"],
            row["since"],
            row["updated_at"],
        )

    def set_override(self, list_name: str, now: datetime, actor: str, **changes: Any) -> None:
        """Change a list's cron, timezone or paused flag, creating the row on first use."""
        try:
            self._set_override(list_name, now, actor, **changes)
        except IntegrityError:  # another process created the row between our read and write
            self._set_override(list_name, now, actor, **changes)

    def _set_override(self, list_name: str, now: datetime, actor: str, **changes: Any) -> None:
        with self.engine.begin() as conn:
            exists = conn.execute(
                select(schedules.c.list_name).where(schedules.c.list_name == list_name)
            ).first()
            if exists:
                conn.execute(
                    schedules.update()
                    .where(schedules.c.list_name == list_name)
                    .values(updated_at=now, updated_by=actor, **changes)
                )
            else:
                values = {"cron": None, "timezone": None, "paused": False, **changes}
                conn.execute(
                    schedules.insert().values(
                        list_name=list_name, since=now, updated_at=now, updated_by=actor, **values
                    )
                )

    def beat(self, owner: str, started_at: datetime, now: datetime, state: str) -> None:
        with self.engine.begin() as conn:
            n = conn.execute(
                heartbeats.update()
                .where(heartbeats.c.owner == owner)
                .values(beat_at=now, state=state)
            ).rowcount
            if not n:
                conn.execute(
                    heartbeats.insert().values(
                        owner=owner, started_at=started_at, beat_at=now, state=state
                    )
                )

    def heartbeats(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(heartbeats).order_by(heartbeats.c.beat_at.desc()))
            return [dict(r) for r in rows.mappings()]
