"""Where a wave-sent issue's ledger rows go: ``Placing`` and the SQL that reads a row's wave
from its reader's zone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal, null

from .schema import UTCDateTime, subscribers


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


def wave_case(placing: Placing) -> ColumnElement[Any]:
    """Each subscriber's wave, from their zone; NULL for a zone the plan did not know."""
    zone = func.coalesce(subscribers.c.timezone, placing.default)
    whens = [(zone == z, literal(placing.slot(z), UTCDateTime())) for z in placing.zones]
    if not whens:
        return null()
    return case(*whens, else_=null())


def status_case(placing: Placing, planned: str, waiting: str) -> ColumnElement[str]:
    """``planned`` for a subscriber whose wave this run sends, else ``waiting``."""
    zone = func.coalesce(subscribers.c.timezone, placing.default)
    now = [z for z in placing.zones if placing.slot(z) in placing.released]
    if not now:
        return literal(waiting)
    return case((zone.in_(now), literal(planned)), else_=literal(waiting))
