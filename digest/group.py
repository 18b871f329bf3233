"""Group summarized posts into sections by area of focus."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from .models import DigestPost, Section, StoredPost
from .summarize import Summarizer
from .taxonomy import Taxonomy, area_key
from .text import printable, safe_url

Classify = Callable[[StoredPost], tuple[str, float] | None]
"""Guess an area for a post that has none: (area, confidence), or None when it cannot."""


@dataclass(frozen=True, slots=True)
class AuthorProfile:
    """What the config says about an author."""

    areas: tuple[str, ...]
    bio: str = ""


def place(
    post: StoredPost,
    taxonomy: Taxonomy,
    authors: Mapping[str, AuthorProfile],
    classify: Classify | None = None,
    threshold: float = 0.5,
) -> tuple[tuple[str, ...], str, float]:
    """The post's areas, where they came from, and the confidence in the first one."""
    areas = taxonomy.normalize(post.areas)
    source, confidence = "post", 1.0
    if not areas and post.author:
        profile = authors.get(area_key(post.author))
        if profile:
            areas, source = taxonomy.normalize(profile.areas), "author"
    if not areas and classify is not None:
        guess = classify(post)
        if guess is not None:
            area, confidence = guess
            canon = taxonomy.canonical(area)
            if canon and confidence >= threshold:
                areas, source = (canon,), "classifier"
            else:
                source = "classifier"
    if post.area_override:
        canon = taxonomy.canonical(post.area_override) or post.area_override
        areas = (canon, *(a for a in areas if a != canon))
        source, confidence = "editor", 1.0
    return areas, source, confidence


def group(
    posts: Sequence[StoredPost],
    summarizer: Summarizer,
    taxonomy: Taxonomy,
    authors: Mapping[str, AuthorProfile],
    *,
    classify: Classify | None = None,
    threshold: float = 0.5,
) -> tuple[Section, ...]:
    """Sections in display order; excluded posts are left out."""
    by_area: dict[str, list[DigestPost]] = {}
    for post in posts:
        if post.excluded:
            continue
        areas, source, confidence = place(post, taxonomy, authors, classify, threshold)
        summary = post.summary_override or summarizer.summarize(post.text, post.title)
        item = DigestPost(  # untrusted text: no control characters past this point
            id=post.id,
            title=printable(post.title),
            url=safe_url(post.url),
            author=printable(post.author) if post.author else post.author,
            areas=tuple(printable(a) for a in areas),
            summary=printable(summary),
            published=post.published,
            area_source=source,
            confidence=round(confidence, 3),
            pinned=post.pinned,
            image=post.image,
            dated=post.published_given,
        )
        by_area.setdefault(areas[0] if areas else taxonomy.catch_all, []).append(item)
    return tuple(
        Section(area, tuple(sorted(items, key=_post_order)))
        for area, items in sorted(by_area.items(), key=_section_order(taxonomy))
    )


def _post_order(post: DigestPost) -> tuple[bool, float, int]:
    return (not post.pinned, -post.published.timestamp(), post.id)


def _section_order(
    taxonomy: Taxonomy,
) -> Callable[[tuple[str, list[DigestPost]]], tuple[int, int, int, str]]:
    order = {name: i for i, name in enumerate(taxonomy.settings.order)}

    def key(item: tuple[str, list[DigestPost]]) -> tuple[int, int, int, str]:
        area, posts = item
        return (area == taxonomy.catch_all, order.get(area, len(order)), -len(posts), area)

    return key


def newest(posts: Sequence[DigestPost]) -> datetime | None:
    """The latest publication time among ``posts``."""
    return max((p.published for p in posts), default=None)
