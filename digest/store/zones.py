"""Which readers a wave plans: the ``Zones`` selection and its SQL over ``subscribers``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, false, func, or_, true

from .schema import subscribers


@dataclass(frozen=True, slots=True)
class Zones:
    """Whom one wave plans, by the readers' time zones (None: no zone of their own)."""

    every: frozenset[str | None]
    """Zones whose readers are all planned."""
    changed: frozenset[str | None] = frozenset()
    """Zones whose readers are planned only if added or changed since ``since``: an earlier
    wave planned the others."""
    since: datetime | None = None


def zone_clause(zones: Zones | None, list_id: int) -> ColumnElement[bool]:
    """The subscribers of the list ``zones`` selects; all when None.

    Each alternative names the list, so SQLite answers each from the (list_id, timezone)
    index instead of reading the whole list once per wave.
    """
    if zones is None:
        return true()
    owner = subscribers.c.list_id == list_id
    named = sorted(z for z in zones.every if z is not None)
    terms = [and_(owner, subscribers.c.timezone.in_(named))] if named else []
    if None in zones.every:
        terms.append(and_(owner, subscribers.c.timezone.is_(None)))
    if zones.since is not None and zones.changed:
        # coalesce() keeps SQLite off the zone index here: the few rows changed since the
        # freeze come from the (list_id, updated_at) index, not every earlier wave's readers
        changed = sorted(z or "" for z in zones.changed)
        zone = func.coalesce(subscribers.c.timezone, "")
        terms.append(and_(owner, subscribers.c.updated_at >= zones.since, zone.in_(changed)))
    return or_(false(), *terms)
