"""Build phase: choose a list's posts for the current period, summarize, group and render."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from .config import ListSettings, Settings
from .group import AuthorProfile, group
from .models import Digest, RenderedEmail, StoredPost, Window
from .render import Renderer
from .schedule import parse_crontab, period_at
from .store import Store
from .store.issues import IssueRow
from .summarize import ExtractiveSummarizer, Summarizer
from .taxonomy import Taxonomy, area_key


@dataclass(frozen=True, slots=True)
class BuiltIssue:
    """A list's issue for one period: either freshly built, or the one already stored."""

    list_name: str
    list_id: int
    digest: Digest
    email: RenderedEmail
    stored: IssueRow | None = None

    @property
    def window(self) -> Window:
        return self.digest.window

    @property
    def post_ids(self) -> tuple[int, ...]:
        return tuple(p.id for p in self.digest.posts)


def current_window(lst: ListSettings, now: datetime) -> Window:
    """The list's period holding ``now``, in the list's time zone."""
    return period_at(parse_crontab(lst.schedule, lst.timezone), now)


class Builder:
    """Builds issues for one settings object; holds the summarizer, taxonomy and renderer."""

    def __init__(self, settings: Settings, summarizer: Summarizer | None = None):
        self.settings = settings
        self.summarizer = summarizer or ExtractiveSummarizer(
            max_sentences=settings.summary.max_sentences, max_words=settings.summary.max_words
        )
        self.taxonomy = Taxonomy(settings.taxonomy)
        self.authors = {
            area_key(a.name): AuthorProfile(tuple(a.areas), a.bio) for a in settings.authors
        }

    @cached_property
    def renderer(self) -> Renderer:
        return Renderer(self.settings)

    def digest(
        self, list_name: str, number: int, window: Window, posts: list[StoredPost], now: datetime
    ) -> Digest:
        sections = group(posts, self.summarizer, self.taxonomy, self.authors)
        return Digest(list_name, number, window, sections, built_at=now)

    def build(
        self, store: Store, list_name: str, now: datetime, at: datetime | None = None
    ) -> BuiltIssue:
        """The issue of ``list_name`` for the period holding ``at`` (default: ``now``)."""
        lst = self.settings.list(list_name)
        list_id = store.subscribers.list_id(lst.name)
        window = current_window(lst, at or now)
        stored = store.issues.for_period(list_id, window)
        if stored is not None:
            posts = store.posts.by_ids(store.issues.post_ids(stored.id))
            digest = self.digest(lst.name, stored.number, window, posts, stored.created_at)
            return BuiltIssue(lst.name, list_id, digest, stored.email, stored)
        previous = store.issues.latest(list_id)
        late_since = previous.created_at if previous else None
        posts = store.posts.for_issue(list_id, window, late_since)
        digest = self.digest(lst.name, store.issues.next_number(list_id), window, posts, now)
        return BuiltIssue(lst.name, list_id, digest, self.renderer.render(digest))
