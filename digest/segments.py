"""Segments: subscribers grouped by the areas they follow; each segment is rendered once.

A subscriber without area preferences is in the ``all`` segment and gets the whole issue. One
with preferences gets only the sections of those areas, then an "Also this week" list of the
other posts' titles. The segment key depends on the preferences alone, so it is stable across
issues.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain

from .models import Digest, DigestPost, RenderedEmail, Section, Subscriber
from .taxonomy import Taxonomy, area_key

ALL = "all"
"""The key of the segment that gets everything."""


def segment_areas(areas: Iterable[str], taxonomy: Taxonomy) -> tuple[str, ...]:
    """Canonical areas in section order (unknown areas after, by name), without duplicates."""
    names = taxonomy.normalize(areas)
    order = {name: i for i, name in enumerate((*taxonomy.settings.order, *taxonomy.names))}
    return tuple(sorted(names, key=lambda a: (order.get(a, len(order)), a)))


def segment_key(areas: Iterable[str], taxonomy: Taxonomy) -> str:
    """The segment of a subscriber with these area preferences: ``all`` or slugs joined by +."""
    canon = segment_areas(areas, taxonomy)
    return "+".join(area_key(a).replace(" ", "-") for a in canon) if canon else ALL


@dataclass(frozen=True, slots=True)
class Audience:
    """One segment's key, the areas it follows and how many active subscribers it has."""

    key: str
    areas: tuple[str, ...]
    subscribers: int = 0


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


@dataclass(frozen=True, slots=True)
class SegmentView:
    """What one segment reads: its sections in full, and the other posts as titles."""

    key: str
    areas: tuple[str, ...]
    sections: tuple[Section, ...]
    also: tuple[DigestPost, ...] = ()
    others: tuple[Section, ...] = ()
    """The sections whose posts make up ``also``, in order."""
    lead: DigestPost | None = None
    """The post the segment's subject names and its body sets apart (see ``lead_of``)."""


def lead_of(sections: Iterable[Section]) -> DigestPost | None:
    """The lead of these sections: the first pinned post, else the first post of the first."""
    first = None
    for section in sections:
        for post in section.posts:
            if post.pinned:
                return post
            first = first or post
    return first


def view(digest: Digest, audience: Audience) -> SegmentView:
    """The part of ``digest`` that ``audience`` reads."""
    if not audience.areas:
        return SegmentView(audience.key, (), digest.sections, lead=lead_of(digest.sections))
    followed = set(audience.areas)
    mine = tuple(s for s in digest.sections if s.area in followed)
    others = tuple(s for s in digest.sections if s.area not in followed)
    also = tuple(chain.from_iterable([s.posts for s in others]))
    return SegmentView(audience.key, audience.areas, mine, also, others, lead_of(mine))


@dataclass(frozen=True, slots=True)
class SegmentEmail:
    """One segment's rendering: the email its subscribers get, and what overflow collapsed."""

    key: str
    areas: tuple[str, ...]
    email: RenderedEmail
    subscribers: int = 0
    posts: int = 0
    """Posts of the segment's own sections."""
    also: int = 0
    """Posts of other areas, listed by title."""
    lines: int = 0
    """Posts of the segment's sections collapsed to one-line title links."""
    linked: int = 0
    """Posts folded into the single "N more posts this week" link."""

    @property
    def collapsed(self) -> int:
        """Posts not shown as the segment would show them without the size limit."""
        return self.lines + self.linked

    @property
    def html_bytes(self) -> int:
        return self.email.html_bytes
