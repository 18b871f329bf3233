"""Build phase: choose a list's posts for the current period, summarize, group and render."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from functools import cached_property

from .config import Settings
from .errors import NotFoundError
from .group import AuthorProfile, Classify, group, place
from .models import (
    ALL,
    Audience,
    BuiltIssue,
    Digest,
    Headlines,
    IssueRow,
    SegmentEmail,
    StoredPost,
    Window,
)
from .periods import period_of
from .render.issue import IssueRender
from .render.renderer import Renderer
from .store import Store
from .subscribers.audiences import audiences, segment_key
from .summarize import ExtractiveSummarizer, Summarizer
from .taxonomy import Taxonomy, area_key
from .waves.local import content_window, plan_for

NO_HEADLINES = Headlines()
"""An issue whose subject and preheader editors left automatic."""
TRAINING_POSTS = 2000
"""How many of the newest posts the area classifier learns from."""


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
        self,
        list_name: str,
        number: int,
        window: Window,
        posts: list[StoredPost],
        now: datetime,
        classify: Classify | None = None,
        headlines: Headlines = NO_HEADLINES,
    ) -> Digest:
        sections = group(
            posts,
            self.summarizer,
            self.taxonomy,
            self.authors,
            classify=classify,
            threshold=self.settings.taxonomy.classifier_threshold,
        )
        return Digest(list_name, number, window, sections, built_at=now, headlines=headlines)

    def classifier(self, store: Store, posts: list[StoredPost]) -> Classify | None:
        """A classifier trained on the store's tagged posts, if any of ``posts`` needs one."""
        if all(place(p, self.taxonomy, self.authors)[0] for p in posts):
            return None
        texts, labels = [], []
        for post in store.posts.recent(TRAINING_POSTS):
            areas = place(post, self.taxonomy, self.authors)[0]
            if areas:
                texts.append(f"{post.title}\n{post.text}")
                labels.append(areas[0])
        if len(texts) < self.settings.taxonomy.classifier_min_posts or len(set(labels)) < 2:
            return None
        from .classify import AreaClassifier  # scikit-learn is slow to import; only load it here

        model = AreaClassifier().fit(texts, labels)
        return lambda post: model.predict(f"{post.title}\n{post.text}")

    def build(
        self, store: Store, list_name: str, now: datetime, at: datetime | None = None
    ) -> BuiltIssue:
        """The issue of ``list_name`` for the period holding ``at`` (default: ``now``)."""
        lst = self.settings.list(list_name)
        list_id = store.subscribers.list_id(lst.name)
        window = period_of(self.settings, store.runs, lst.name, at or now)
        stored = store.issues.for_period(list_id, window)
        if stored is not None:
            # exactly the posts frozen with the issue, whatever editors changed since
            posts = [
                replace(p, excluded=False)
                for p in store.posts.by_ids(store.issues.post_ids(stored.id))
            ]
            digest = self.digest(
                lst.name,
                stored.number,
                window,
                posts,
                stored.created_at,
                self.classifier(store, posts),
            )
            render = self.renderer.issue(digest)
            fresh = self.segments(store, list_id, digest, render)
            segments = self.frozen_segments(store, stored, fresh)
            return BuiltIssue(
                lst.name, list_id, digest, stored.email, stored, segments, render.web_page
            )
        previous = store.issues.latest(list_id)
        late_since = previous.created_at if previous else None
        content, waves = window, tuple[datetime, ...]()
        if lst.deliver == "local":  # the content closes once, at the first wave
            plan = plan_for(self.settings, store, lst.name, window)
            content, waves = content_window(store, list_id, window, plan), plan.instants
        posts = store.posts.for_issue(list_id, content, late_since)
        number = store.issues.next_number(list_id)
        headlines = store.headlines.for_period(lst.name, window.start)
        classify = self.classifier(store, posts)
        digest = self.digest(lst.name, number, window, posts, now, classify, headlines)
        render = self.renderer.issue(digest)
        segments = self.segments(store, list_id, digest, render)
        return BuiltIssue(
            lst.name, list_id, digest, segments[0].email, None, segments, render.web_page, waves
        )

    @staticmethod
    def frozen_segments(
        store: Store, stored: IssueRow, segments: tuple[SegmentEmail, ...]
    ) -> tuple[SegmentEmail, ...]:
        """``segments`` with the renderings frozen with ``stored``: what each reader gets.

        A segment frozen without its own rendering (a preference new since) gets the whole
        issue, as the send does.
        """
        frozen = store.issues.segments_of(stored.id)
        return tuple(replace(s, email=frozen.get(s.key, stored.email)) for s in segments)

    def segment(self, built: BuiltIssue, key: str) -> SegmentEmail | None:
        """The rendering segment ``key`` gets: one of the list's, or an "only area X" one."""
        for segment in built.segments:
            if segment.key == key:
                return segment
        if key == ALL:
            return SegmentEmail(ALL, (), built.email)
        for area in self.taxonomy.names:
            if segment_key((area,), self.taxonomy) == key:
                return self.renderer.render_segments(built.digest, [Audience(key, (area,))])[0]
        return None

    def test_issue(self, built: BuiltIssue, segment: str, now: datetime) -> IssueRow:
        """The issue a test send of ``segment`` sends: the stored one, or a draft of ``built``."""
        chosen = self.segment(built, segment)
        if chosen is None:
            raise NotFoundError(f"no segment {segment!r}", subject=f"list {built.list_name}")
        if built.stored is not None:
            return replace(built.stored, email=chosen.email)
        number, window = built.digest.number, built.window
        return IssueRow(0, built.list_id, number, window, "draft", chosen.email, now, None)

    def segment_key(self, areas: Iterable[str]) -> str:
        """The key of the segment a subscriber with these area preferences gets."""
        return segment_key(areas, self.taxonomy)

    def segments(
        self, store: Store, list_id: int, digest: Digest, render: IssueRender | None = None
    ) -> tuple[SegmentEmail, ...]:
        """The ``all`` segment, then one per distinct preference among active subscribers."""
        found = audiences(store.subscribers.active(list_id), self.taxonomy)
        segments = tuple((render or self.renderer.issue(digest)).segments(found))
        assert segments[0].key == ALL
        return segments
