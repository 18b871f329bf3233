"""Audiences: a list's subscribers grouped by the areas they follow; each is rendered once.

A subscriber without area preferences is in the ``all`` audience and gets the whole issue. One
with preferences gets only the sections of those areas, then an "Also this week" list of the
other posts' titles. The key depends on the preferences alone, so it is stable across issues.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..models import ALL, Audience, Subscriber
from ..taxonomy import Taxonomy, area_key


def segment_areas(areas: Iterable[str], taxonomy: Taxonomy) -> tuple[str, ...]:
    """Canonical areas in section order (unknown areas after, by name), without duplicates."""
    names = taxonomy.normalize(areas)
    order = {name: i for i, name in enumerate((*taxonomy.settings.order, *taxonomy.names))}
    return tuple(sorted(names, key=lambda a: (order.get(a, len(order)), a)))


def segment_key(areas: Iterable[str], taxonomy: Taxonomy) -> str:
    """The segment of a subscriber with these area preferences: ``all`` or slugs joined by +."""
    canon = segment_areas(areas, taxonomy)
    return "+".join(area_key(a).replace(" ", "-") for a in canon) if canon else ALL


def audiences(subscribers: Iterable[Subscriber], taxonomy: Taxonomy) -> tuple[Audience, ...]:
    """The distinct segments of ``subscribers``, ``all`` first (always present), then by key."""
    counts: dict[str, int] = {ALL: 0}
    areas: dict[str, tuple[str, ...]] = {ALL: ()}
    for sub in subscribers:
        canon = segment_areas(sub.areas, taxonomy)
        key = segment_key(canon, taxonomy)
        areas.setdefault(key, canon)
        counts[key] = counts.get(key, 0) + 1
    keys = [ALL, *sorted(k for k in counts if k != ALL)]
    return tuple(Audience(k, areas[k], counts[k]) for k in keys)
