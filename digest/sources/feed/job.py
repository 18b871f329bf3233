"""A fetched feed body to posts, as one job a pool process or a Celery worker can run.

This is the CPU-bound part of reading a feed (feedparser, then cleaning and sanitizing each
entry, and each post's near-duplicate fingerprint); fetching stays in the collect phase's
threads, and storing in its one process, which would otherwise spend a third of its time on
the fingerprints. A job holds only the body and the
source's options, and its outcome only frozen dataclasses, so both pickle (and, through
``digest.workers.parsing``, travel as JSON).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from ...config import TaxonomySettings
from ...errors import PostParseError
from ...models import Post
from ...taxonomy import Taxonomy, area_key
from ..base import Problem
from ..simhash import simhash
from .entries import EntryContext, is_excerpt, to_post
from .parse import FeedFormatError, Item, parse_feed


@dataclass(frozen=True, slots=True)
class ParseJob:
    """One feed body and what turning it into posts needs to know."""

    source: str
    body: bytes
    url: str
    """The URL the body came from, after redirects."""
    content_type: str
    feed_url: str
    """The configured feed URL (guids are derived from it)."""
    timezone: str
    areas_map: tuple[tuple[str, str], ...]
    taxonomy: TaxonomySettings
    now: datetime
    max_entries: int
    full_text: bool | Literal["auto"]
    full_text_max: int


@dataclass(frozen=True, slots=True)
class Parsed:
    """A job's outcome: posts in feed order, skipped items, and whose article to fetch."""

    source: str
    posts: tuple[Post, ...] = ()
    problems: tuple[Problem, ...] = ()
    wanted: tuple[int, ...] = ()
    """Indexes into ``posts`` of those whose article page should be fetched for full text."""
    error: str | None = None
    """Set when the body is not a feed digest can read (or could not be parsed at all)."""
    fingerprints: tuple[int | None, ...] = ()
    """``simhash`` of each post's text, in the order of ``posts``."""


def parse_job(job: ParseJob) -> Parsed:
    """Parse ``job``'s body and turn its entries into posts; never raises for bad content."""
    try:
        parsed = parse_feed(job.body, job.url, job.content_type)
    except FeedFormatError as exc:
        return Parsed(job.source, error=exc.message)
    problems = [Problem(job.source, where or job.url, p) for where, p in parsed.problems]
    items = parsed.items
    if len(items) > job.max_entries:
        skipped = f"{len(items) - job.max_entries} entries past max_entries not read"
        problems.append(Problem(job.source, job.url, skipped))
        items = items[: job.max_entries]
    ctx = EntryContext(
        source=job.source,
        feed_url=job.feed_url,
        zone=ZoneInfo(job.timezone),
        taxonomy=Taxonomy(job.taxonomy),
        areas_map={area_key(k): v for k, v in job.areas_map},
        now=job.now,
    )
    posts: list[Post] = []
    wanted: list[int] = []
    seen: dict[str, str] = {}
    budget = job.full_text_max
    for item in items:
        try:
            post = to_post(item, ctx)
        except PostParseError as exc:
            problems.append(Problem(job.source, item.where, exc.message))
            continue
        if post.guid in seen:
            message = f"duplicate guid {post.guid!r} (kept {seen[post.guid]})"
            problems.append(Problem(job.source, item.where, message))
            continue
        seen[post.guid] = item.where
        if budget > 0 and post.url and _wants_full_text(job, item, post):
            budget -= 1
            wanted.append(len(posts))
        posts.append(post)
    fingerprints = tuple(simhash(p.text) for p in posts)
    return Parsed(job.source, tuple(posts), tuple(problems), tuple(wanted), None, fingerprints)


def _wants_full_text(job: ParseJob, item: Item, post: Post) -> bool:
    return job.full_text is True or (job.full_text == "auto" and is_excerpt(item, post.text))
