"""Small immutable models passed between the pipeline's phases."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from .placeholders import Placeholders


@dataclass(frozen=True, slots=True)
class Image:
    """A post's picture: an https URL (see ``digest.sources.images``), its size, alt text."""

    url: str
    width: int | None = None
    height: int | None = None
    alt: str = ""


@dataclass(frozen=True, slots=True)
class Post:
    """A post as a source read it, before it is stored."""

    source: str
    guid: str
    title: str
    text: str
    url: str | None = None
    author: str | None = None
    author_bio: str = ""
    areas: tuple[str, ...] = ()
    published: datetime | None = None
    html: str | None = None
    caption: str | None = None
    image: Image | None = None
    """The feed's enclosure or media picture, or the article's ``og:image``."""
    origin: str = ""
    """Where the post came from (a file path or feed URL), for error messages."""


@dataclass(frozen=True, slots=True)
class StoredPost:
    """A post as the store holds it: with its id and a resolved publication time."""

    id: int
    source: str
    guid: str
    title: str
    text: str
    url: str | None
    author: str | None
    areas: tuple[str, ...]
    published: datetime
    collected_at: datetime
    html: str | None = None
    summary_override: str | None = None
    area_override: str | None = None
    excluded: bool = False
    pinned: bool = False
    rank: int | None = None
    """Its place in its section as editors ordered it (None: by pin and date)."""
    image: Image | None = None
    published_given: bool = True
    """False when the post carried no date: ``published`` is then when it was first collected,
    good for windowing, never shown as its publication date (see ``shown_published``)."""

    @property
    def shown_published(self) -> datetime | None:
        """The publication date to show a person: None for a post that carried none."""
        return self.published if self.published_given else None


@dataclass(frozen=True, slots=True)
class Window:
    """The period an issue covers: posts published after ``start`` up to ``end``."""

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class DigestPost:
    """A post as it appears in an issue: summarized and placed in a section."""

    id: int
    title: str
    url: str | None
    author: str | None
    areas: tuple[str, ...]
    summary: str
    published: datetime
    area_source: str = "post"
    confidence: float = 1.0
    pinned: bool = False
    rank: int | None = None
    image: Image | None = None
    dated: bool = True
    """False when the post carried no date: ``published`` is then not shown."""

    @property
    def tags(self) -> str:
        """The post's areas after its first (the section's), comma-separated: its area tags."""
        return ", ".join(self.areas[1:])


@dataclass(frozen=True, slots=True)
class Section:
    """One area of focus and its posts, in display order."""

    area: str
    posts: tuple[DigestPost, ...]


@dataclass(frozen=True, slots=True)
class Headline:
    """An editor's subject and preheader; None keeps the automatic one."""

    subject: str | None = None
    preheader: str | None = None


@dataclass(frozen=True, slots=True)
class Headlines:
    """The editors' subject and preheader of an issue, and of single segments (by key)."""

    issue: Headline = Headline()
    segments: tuple[tuple[str, Headline], ...] = ()

    def issue_or(self, subject: str, preheader: str) -> tuple[str, str]:
        """The issue's subject and preheader if editors set them, else these."""
        return self.issue.subject or subject, self.issue.preheader or preheader

    def chosen(self, key: str, subject: str, preheader: str) -> tuple[str, str]:
        """Segment ``key``'s subject and preheader: its own, else the issue's, else these."""
        own = dict(self.segments).get(key, Headline())
        return (
            own.subject or self.issue.subject or subject,
            own.preheader or self.issue.preheader or preheader,
        )


@dataclass(frozen=True, slots=True)
class Digest:
    """The content of one issue of one list, ready to render."""

    list_name: str
    number: int
    window: Window
    sections: tuple[Section, ...]
    built_at: datetime
    headlines: Headlines = Headlines()
    """What editors set at the desk in place of the automatic subject and preheader."""

    @property
    def posts(self) -> tuple[DigestPost, ...]:
        return tuple(p for s in self.sections for p in s.posts)


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    """A rendered issue: subject, preheader and both bodies, with recipient placeholders."""

    subject: str
    preheader: str
    html: str
    text: str
    mjml: str
    placeholders: Placeholders = field(default_factory=Placeholders)
    """The tokens this rendering holds (their key is random per rendering)."""

    @property
    def html_bytes(self) -> int:
        return len(self.html.encode("utf-8"))


@dataclass(frozen=True, slots=True)
class Subscriber:
    """One subscriber of one list, as read from the roster or the store."""

    email: str
    name: str = ""
    areas: tuple[str, ...] = ()
    status: str = "active"
    id: int | None = None
    line: int | None = None
    subscribed_at: str = ""
    source: str = ""
    timezone: str | None = None
    """The reader's IANA zone; None: the list's (for a list sent in readers' zones)."""


class Recipient(NamedTuple):
    """One addressee of a send, with the per-recipient values the backend fills in.

    A named tuple rather than a frozen dataclass, as are ``DeliveryResult`` and the ledger's
    rows: a send makes several per recipient, and tuples are built four times faster.
    """

    subscriber_id: int
    email: str
    name: str
    unsubscribe_url: str
    preferences_url: str


TEST_CHUNK = "test"
"""The chunk name of a test send."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """What every recipient of one send shares: the rendered email and its sender."""

    list_name: str
    issue_id: int
    issue_key: str
    email: RenderedEmail
    from_address: str
    from_name: str
    reply_to: str | None = None
    unsubscribe_mailto: str | None = None
    categories: tuple[str, ...] = field(default_factory=tuple)
    segment: str = ""
    """Which rendering of the issue this is ("" is the whole issue; see issue segments)."""
    chunk: str = ""
    """The ledger chunk being delivered, for backends that tag requests with it."""

    @property
    def is_test(self) -> bool:
        """A test send (``send --test``, the desk's test button): outside the ledger."""
        return self.chunk == TEST_CHUNK


class DeliveryResult(NamedTuple):
    """What happened to one recipient in one delivery attempt."""

    subscriber_id: int
    status: str
    """One of ``accepted``, ``failed``, ``retry`` or ``unknown``."""
    message_id: str | None = None
    error: str | None = None


ALL = "all"
"""The key of the segment that gets everything."""


@dataclass(frozen=True, slots=True)
class Audience:
    """One segment's key, the areas it follows and how many active subscribers it has."""

    key: str
    areas: tuple[str, ...]
    subscribers: int = 0


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


@dataclass(frozen=True, slots=True)
class IssueRow:
    """A stored issue: frozen content of one list's period."""

    id: int
    list_id: int
    number: int
    window: Window
    status: str
    email: RenderedEmail
    created_at: datetime
    finished_at: datetime | None
    waves: tuple[datetime, ...] = ()
    """The wave instants frozen with the issue (a list sent in its readers' zones)."""
    planned_at: datetime | None = None
    """When every reader got a ledger row (a list sent in waves: at the freeze)."""

    @property
    def key(self) -> str:
        return f"{self.window.end.strftime('%Y-%m-%d')}-{self.number}"


@dataclass(frozen=True, slots=True)
class BuiltIssue:
    """A list's issue for one period: either freshly built, or the one already stored."""

    list_name: str
    list_id: int
    digest: Digest
    email: RenderedEmail
    """The email of the ``all`` segment (subscribers without area preferences)."""
    stored: IssueRow | None = None
    segments: tuple[SegmentEmail, ...] = ()
    """One rendering per distinct segment of the list's active subscribers, ``all`` first."""
    web_page: Callable[[], str] | None = field(default=None, compare=False, repr=False)
    """The issue's web version, from the same rendering as its emails (the archive's page)."""
    waves: tuple[datetime, ...] = ()
    """For a list sent in its readers' zones: the wave instants frozen with the issue."""

    def segment(self, key: str) -> SegmentEmail:
        """The segment with ``key`` (see ``Builder.segment_key``); KeyError when absent."""
        for segment in self.segments:
            if segment.key == key:
                return segment
        raise KeyError(key)

    @property
    def window(self) -> Window:
        return self.digest.window

    @property
    def post_ids(self) -> tuple[int, ...]:
        return tuple(p.id for p in self.digest.posts)
