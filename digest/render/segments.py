"""What one audience reads of an issue: its own sections in full, the others as titles."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain

from ..models import Audience, Digest, DigestPost, Section


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
