"""What the desk shows: a list's coming issue, its posts, segments, previews and archive."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from ...models import ALL, Audience, BuiltIssue, RenderedEmail, SegmentEmail, StoredPost
from ...pipeline import Pipeline
from ...placeholders import fill
from ...render.templates import web_url
from ...store.desk import DeskAction
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
    for segment in built.segments:
        if segment.key == key:
            return segment
    if key == ALL:
        return SegmentEmail(ALL, (), built.email)
    taxonomy = pipeline.builder.taxonomy
    for area in taxonomy.names:
        if segment_key((area,), taxonomy) == key:
            audience = Audience(key, (area,))
            return pipeline.builder.renderer.render_segments(built.digest, [audience])[0]
    return None


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
    )


def post_views(pipeline: Pipeline, list_name: str) -> list[PostView]:
    """The coming issue's posts, excluded ones too, with their section and summaries."""
    built = pipeline.build(list_name)
    sections = {p.id: s.area for s in built.digest.sections for p in s.posts}
    summarizer = pipeline.builder.summarizer
    views = []
    for post in pipeline.candidates(list_name):
        automatic = summarizer.summarize(post.text, post.title)
        edits = pipeline.store.posts.edits(post.id)
        last = (edits[-1][0], edits[-1][2], edits[-1][3]) if edits else None
        summary = post.summary_override or automatic
        views.append(PostView(post, sections.get(post.id), summary, automatic, last))
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
