"""Reads of the (list, period, wave) claims; mixed into ``RunRepo``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select

from ..models import Window
from .schema import wave_claims


class WaveClaimReads:
    """How each wave of a list sent in its readers' zones stands."""

    engine: Engine

    def waves(self, list_name: str, window: Window) -> dict[datetime, str]:
        """The outcome of each claimed wave of the period."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(wave_claims.c.wave, wave_claims.c.outcome).where(
                    wave_claims.c.list_name == list_name,
                    wave_claims.c.period_start == window.start,
                )
            ).all()
        return {r[0]: str(r[1]) for r in rows}

    def running_waves(self) -> list[tuple[str, Window, datetime, str | None, datetime | None]]:
        """Wave claims running or interrupted: (list, period, wave, owner, lease end)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    wave_claims.c.list_name,
                    wave_claims.c.period_start,
                    wave_claims.c.period_end,
                    wave_claims.c.wave,
                    wave_claims.c.owner,
                    wave_claims.c.lease_until,
                ).where(wave_claims.c.outcome.in_(("running", "interrupted")))
            ).all()
        return [(r[0], Window(r[1], r[2]), r[3], r[4], r[5]) for r in rows]

    def last_wave(self, list_name: str) -> datetime | None:
        """The latest wave of the list anyone claimed."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(wave_claims.c.wave)
                .where(wave_claims.c.list_name == list_name)
                .order_by(wave_claims.c.wave.desc())
                .limit(1)
            ).first()
        return row[0] if row else None
