"""Keep each email under Gmail's clipping size by collapsing its lowest-ranked posts.

Collapse happens in levels, lowest-ranked posts first, and each post goes full, then a one-line
title link, then into the single "N more posts this week" link to the web version. Other areas'
posts ("Also this week", already titles) rank lowest, so they fold into the link first, from
the end of the list; then the segment's own posts turn into titles, then fold into the link.
The segment's own posts are ranked round-robin across sections (pinned first, then each
section's first post, then each section's second...), so every section keeps its best longest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from .models import DigestPost, Section
from .segments import SegmentView

log = logging.getLogger(__name__)

HTML_LIMIT = 100_000
"""Bytes of HTML an email must stay under (Gmail clips at about 102 KB)."""
RECIPIENT_RESERVE = 1_500
"""Bytes kept free for the per-recipient values that replace the placeholders."""


@dataclass(frozen=True, slots=True)
class SectionLayout:
    """A section as one email shows it: posts in full, then posts collapsed to titles."""

    area: str
    total: int
    posts: tuple[DigestPost, ...]
    lines: tuple[DigestPost, ...] = ()
    lead: DigestPost | None = None
    """The segment's lead, when this section holds it in full (it is also in ``posts``)."""

    @property
    def rest(self) -> tuple[DigestPost, ...]:
        """The posts in full other than the lead (shown after it)."""
        if self.lead is None:
            return self.posts
        return tuple(p for p in self.posts if p is not self.lead)


def section_layout(
    area: str,
    total: int,
    posts: tuple[DigestPost, ...],
    lines: tuple[DigestPost, ...] = (),
    lead: DigestPost | None = None,
) -> SectionLayout:
    """A section's layout; ``lead`` is kept only when it is one of ``posts``."""
    held = lead is not None and any(p is lead for p in posts)
    return SectionLayout(area, total, posts, lines, lead if held else None)


@dataclass(frozen=True, slots=True)
class Layout:
    """Everything a segment's email body shows at one collapse level."""

    sections: tuple[SectionLayout, ...]
    also: tuple[DigestPost, ...] = ()
    more: int = 0
    lines: int = 0
    """Posts of the segment's sections shown as title links rather than in full."""
    level: int = 0


def ranked(sections: tuple[Section, ...], lead: DigestPost | None = None) -> list[DigestPost]:
    """The posts of ``sections``, best first: the lead, pinned, then round-robin by section."""
    order = [
        (post is not lead, not post.pinned, index, number, post)
        for number, section in enumerate(sections)
        for index, post in enumerate(section.posts)
    ]
    order.sort(key=lambda item: item[:4])
    return [item[4] for item in order]


class Collapser:
    """Lays out one segment's view at any collapse level."""

    def __init__(self, view: SegmentView):
        self.view = view
        self.max_level = len(view.also) + 2 * sum(len(s.posts) for s in view.sections)
        self._ranked: list[DigestPost] | None = None

    @property
    def ranked(self) -> list[DigestPost]:
        """The segment's own posts, best first (computed when a layout first collapses)."""
        if self._ranked is None:
            self._ranked = ranked(self.view.sections, self.view.lead)
        return self._ranked

    def layout(self, level: int) -> Layout:
        level = max(0, min(level, self.max_level))
        lead = self.view.lead
        if level == 0:
            whole = tuple(
                section_layout(s.area, len(s.posts), s.posts, (), lead)
                for s in self.view.sections
                if s.posts
            )
            return Layout(whole, self.view.also)
        n_also, n_own = len(self.view.also), len(self.ranked)
        also_linked = min(level, n_also)
        to_lines = min(max(level - n_also, 0), n_own)
        own_linked = min(max(level - n_also - n_own, 0), n_own)
        full = {id(p) for p in self.ranked[: n_own - to_lines]}
        linked = {id(p) for p in self.ranked[n_own - own_linked :]}
        linked |= {id(p) for p in self.view.also[n_also - also_linked :]}
        sections = []
        for section in self.view.sections:
            posts = tuple(p for p in section.posts if id(p) in full)
            lines = tuple(p for p in section.posts if id(p) not in full and id(p) not in linked)
            if posts or lines:
                sections.append(
                    section_layout(section.area, len(section.posts), posts, lines, lead)
                )
        also = tuple(p for p in self.view.also if id(p) not in linked)
        more = also_linked + own_linked
        return Layout(tuple(sections), also, more, to_lines - own_linked, level)


def utf8_size(text: str) -> int:
    """Bytes of ``text`` in UTF-8 (free for ASCII, which CPython flags on the string)."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def fit(
    view: SegmentView,
    assemble: Callable[[Layout], str],
    compile_: Callable[[str], str],
    limit: int = HTML_LIMIT - RECIPIENT_RESERVE,
    first: tuple[Layout, str, str] | None = None,
) -> tuple[Layout, str, str]:
    """The least-collapsed layout whose compiled HTML fits ``limit`` bytes: (layout, MJML, HTML).

    The HTML size of a level is predicted from its MJML size (cheap: fragments are cached) and
    the HTML/MJML ratio of the last compile; each prediction is checked by compiling it.
    ``first`` is level 0 already assembled and compiled, if the caller has it.
    """
    collapser = Collapser(view)
    if first is None:
        layout = collapser.layout(0)
        mjml = assemble(layout)
        html = compile_(mjml)
    else:
        layout, mjml, html = first
    size = utf8_size(html)
    while size > limit:
        if layout.level >= collapser.max_level:
            log.warning("segment %s: %d bytes of HTML even fully collapsed", view.key, size)
            break
        ratio = size / max(1, len(mjml))
        layout = collapser.layout(_first_fitting(collapser, assemble, ratio, limit, layout.level))
        mjml = assemble(layout)
        html = compile_(mjml)
        size = utf8_size(html)
    return layout, mjml, html


def _first_fitting(
    collapser: Collapser, assemble: Callable[[Layout], str], ratio: float, limit: int, over: int
) -> int:
    """The lowest level above ``over`` whose MJML size times ``ratio`` fits ``limit``."""
    lo, hi = over + 1, collapser.max_level
    while lo < hi:
        mid = (lo + hi) // 2
        if len(assemble(collapser.layout(mid))) * ratio <= limit:
            hi = mid
        else:
            lo = mid + 1
    return lo
