"""What the desk shows: a list's coming issue, its posts, segments, previews and archive."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from ...models import (
    ALL,
    Audience,
    BuiltIssue,
    Headline,
    RenderedEmail,
    SegmentEmail,
    StoredPost,
)
from ...pipeline import Pipeline
from ...placeholders import fill
from ...render.issue import IssueRender
from ...render.templates import web_url
from ...store.desk import DeskAction
from ...store.headlines import ISSUE
from ...subscribers.audiences import segment_key

SAMPLE = {
    "email": "reader@example.org",
    "name": "Sample Reader",
    "unsubscribe_url": "#unsubscribe-preview",
    "preferences_url": "#preferences-preview",
}
"""The recipient every preview is shown to."""
REPORT = ("accepted", "failed", "unknown", "suppressed")


@dataclass(frozen=True, slots=True)
class SegmentOption:
    """One entry of the segment switch."""

    key: str
    label: str
    subscribers: int


@dataclass(frozen=True, slots=True)
class PostView:
    """A post of the coming issue with its automatic summary and editors' changes."""

    post: StoredPost
    section: str | None
    summary: str
    automatic: str
    last_edit: tuple[str, str, datetime] | None
    place: int = 0
    """Its place in its section (1 is first); 0 for an excluded post."""
    of: int = 0
    """How many posts its section has."""
    can_up: bool = False
    can_down: bool = False


@dataclass(frozen=True, slots=True)
class HeadlineView:
    """The subject and preheader a segment gets, the automatic ones, and who set them."""

    subject: str
    preheader: str
    automatic_subject: str
    automatic_preheader: str
    """The segment's own automatic ones (they name its lead)."""
    issue_subject: str
    issue_preheader: str
    """The whole issue's automatic ones (those of readers without area preferences)."""
    issue: Headline
    own: Headline
    changed: tuple[str, datetime] | None
    """Who last set this segment's own headline, and when."""
    issue_changed: tuple[str, datetime] | None


@dataclass(frozen=True, slots=True)
class IssueView:
    """A list's coming issue as the desk shows it, seen by one segment."""

    list_name: str
    number: int
    window: str
    status: str
    editable: bool
    posts: int
    excluded: int
    subscribers: int
    segment: SegmentEmail
    segments: tuple[SegmentOption, ...]
    email: RenderedEmail
    version: str
    label: str = ""
    """The segment's name in the segment switch."""
    headline: HeadlineView | None = None


@dataclass(frozen=True, slots=True)
class ArchiveRow:
    """A past issue with its web version and delivery report."""

    number: int
    date: str
    subject: str
    status: str
    url: str
    report: dict[str, int]
    engagement: dict[str, int]


def status_of(built: BuiltIssue) -> str:
    """``draft`` until the issue is stored; then its stored status (approved, sending, sent)."""
    return "draft" if built.stored is None else built.stored.status


def window_text(pipeline: Pipeline, list_name: str, built: BuiltIssue) -> str:
    tz = pipeline.settings.list(list_name).tz
    start, end = (t.astimezone(tz) for t in (built.window.start, built.window.end))
    return f"{start:%a %-d %b %Y %H:%M} – {end:%a %-d %b %Y %H:%M} ({tz.key})"


def segment_options(pipeline: Pipeline, built: BuiltIssue) -> tuple[SegmentOption, ...]:
    """Every segment the list has, then "only area X" for each area no segment covers."""
    options = [
        SegmentOption(s.key, _segment_label(s.key, s.areas), s.subscribers) for s in built.segments
    ]
    taken = {o.key for o in options}
    taxonomy = pipeline.builder.taxonomy
    for area in taxonomy.names:
        key = segment_key((area,), taxonomy)
        if key not in taken:
            options.append(SegmentOption(key, f"Only {area}", 0))
            taken.add(key)
    return tuple(options)


def _segment_label(key: str, areas: tuple[str, ...]) -> str:
    if key == ALL or not areas:
        return "Everyone (no area preferences)"
    return "Only " + " + ".join(areas)


def segment_of(pipeline: Pipeline, built: BuiltIssue, key: str) -> SegmentEmail | None:
    """The rendering ``key`` subscribers get: a stored segment or an "only area X" one."""
    return pipeline.builder.segment(built, key)


def segment_label(pipeline: Pipeline, built: BuiltIssue, key: str) -> str:
    """The name of segment ``key`` as the segment switch shows it."""
    for option in segment_options(pipeline, built):
        if option.key == key:
            return option.label
    return key


def headline_view(
    pipeline: Pipeline, built: BuiltIssue, segment: SegmentEmail, email: RenderedEmail
) -> HeadlineView:
    """What the subject and preheader editor of ``segment`` shows."""
    key = segment.key
    audience = Audience(key, segment.areas)
    render = IssueRender(pipeline.builder.renderer, built.digest)
    subject, preheader = render.automatic(audience)
    issue_subject, issue_preheader = render.automatic(Audience(ALL, ()))
    repo = pipeline.store.headlines
    headlines = repo.for_period(built.list_name, built.window.start)
    changed = repo.changed(built.list_name, built.window.start)
    return HeadlineView(
        subject=email.subject,
        preheader=email.preheader,
        automatic_subject=subject,
        automatic_preheader=preheader,
        issue_subject=issue_subject,
        issue_preheader=issue_preheader,
        issue=headlines.issue,
        own=dict(headlines.segments).get(key, Headline()),
        changed=changed.get(key),
        issue_changed=changed.get(ISSUE),
    )


def issue_view(pipeline: Pipeline, list_name: str, key: str) -> IssueView | None:
    """The coming issue of ``list_name`` as segment ``key`` sees it; None for no such segment."""
    built = pipeline.build(list_name)
    segment = segment_of(pipeline, built, key)
    if segment is None:
        return None
    email = segment.email if built.stored is None or key != ALL else built.email
    candidates = pipeline.candidates(list_name)
    status = status_of(built)
    version = hashlib.sha256(f"{status}\n{email.html}\n{email.text}".encode()).hexdigest()[:16]
    return IssueView(
        list_name=built.list_name,
        number=built.digest.number,
        window=window_text(pipeline, list_name, built),
        status=status,
        editable=built.stored is None,
        posts=len(built.digest.posts),
        excluded=sum(1 for p in candidates if p.excluded),
        subscribers=pipeline.store.subscribers.count_active(built.list_id),
        segment=segment,
        segments=segment_options(pipeline, built),
        email=email,
        version=version,
        label=segment_label(pipeline, built, key),
        headline=headline_view(pipeline, built, segment, email),
    )


def post_views(pipeline: Pipeline, list_name: str) -> list[PostView]:
    """The coming issue's posts in the order the email shows them, then the excluded ones,
    with their section, place in it and summaries."""
    built = pipeline.build(list_name)
    placed: dict[int, tuple[str, int, int, bool, bool]] = {}
    for section in built.digest.sections:
        posts = section.posts
        for i, p in enumerate(posts):
            up = i > 0 and posts[i - 1].pinned == p.pinned
            down = i + 1 < len(posts) and posts[i + 1].pinned == p.pinned
            placed[p.id] = (section.area, i + 1, len(posts), up, down)
    order = {p.id: i for i, p in enumerate(built.digest.posts)}
    summarizer = pipeline.builder.summarizer
    views = []
    for post in pipeline.candidates(list_name):
        automatic = summarizer.summarize(post.text, post.title)
        edits = pipeline.store.posts.edits(post.id)
        last = (edits[-1][0], edits[-1][2], edits[-1][3]) if edits else None
        summary = post.summary_override or automatic
        area, place, of, up, down = placed.get(post.id, (None, 0, 0, False, False))
        editable = built.stored is None and not post.excluded
        views.append(
            PostView(
                post, area, summary, automatic, last, place, of, up and editable, down and editable
            )
        )
    views.sort(key=lambda v: order.get(v.post.id, len(order)))
    return views


def preview_html(email: RenderedEmail) -> str:
    """The email's HTML as the sample recipient sees it."""
    return fill(email.html, email.placeholders, "html", SAMPLE)


def preview_text(email: RenderedEmail) -> str:
    return fill(email.text, email.placeholders, "text", SAMPLE)


def archive_rows(pipeline: Pipeline, list_name: str, limit: int = 50) -> list[ArchiveRow]:
    """The list's stored issues, newest first, with their ledger counts and webhook stats."""
    lst = pipeline.settings.list(list_name)
    list_id = pipeline.list_id(lst.name)
    events = pipeline.store.events
    rows = []
    for issue in pipeline.store.desk.past_issues(list_id, limit):
        counts = pipeline.store.issues.counts(issue.id)
        stats = events.issue_totals(issue.id)
        rows.append(
            ArchiveRow(
                number=issue.number,
                date=issue.created_at.astimezone(lst.tz).strftime("%-d %b %Y"),  # as dated
                subject=issue.subject,
                status=issue.status,
                url=web_url(pipeline.settings, lst.name, issue.number),
                report={k: counts.get(k, 0) for k in REPORT},
                engagement={k: stats.get(k, 0) for k in ("opened", "clicked")},
            )
        )
    return rows


def stored_issue_html(pipeline: Pipeline, list_name: str, number: int) -> str:
    """A past issue's frozen HTML for the sandboxed archive view."""
    list_id = pipeline.list_id(list_name)
    return preview_html(pipeline.store.issues.by_number(list_id, number).email)


def actions(pipeline: Pipeline, list_name: str) -> list[DeskAction]:
    return pipeline.store.desk.actions(list_name)
