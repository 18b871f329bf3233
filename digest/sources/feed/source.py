"""The ``feed`` source: an RSS, Atom or JSON Feed over HTTP, fetched politely and defensively."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ...models import Post
from ...taxonomy import Taxonomy
from ..base import Problem, SourceReport
from .entries import sanitize
from .fetch import FetchError, Gone, Limits, Refused, fetch, user_agent
from .fulltext import full_text
from .job import Parsed, ParseJob
from .netguard import Network, parse_networks
from .pool import parse

if TYPE_CHECKING:
    from ...config import Settings, SourceSettings

log = logging.getLogger(__name__)


_LIMITS = Limits()
"""The fetch limits' defaults, which the flat feed options below repeat key by key."""


@dataclass(frozen=True)
class FeedOptions:
    """Options of a ``type = "feed"`` source."""

    url: str
    timezone: str = "UTC"
    """Zone for entry dates written without an offset."""
    areas_map: dict[str, str] = field(default_factory=dict)
    """Feed category → area of focus; an empty value ignores that category."""
    full_text: bool | Literal["auto"] = "auto"
    """Fetch each article page for its full text: always, never, or when entries look cut."""
    full_text_max: int = 20
    """At most this many article pages fetched per run."""
    max_entries: int = 500
    connect_timeout: float = _LIMITS.connect_timeout
    read_timeout: float = _LIMITS.read_timeout
    total_timeout: float = _LIMITS.total_timeout
    max_bytes: int = _LIMITS.max_bytes
    max_redirects: int = _LIMITS.max_redirects
    retries: int = _LIMITS.retries
    backoff: float = _LIMITS.backoff
    max_retry_after: float = _LIMITS.max_retry_after
    user_agent: str = ""
    """Default: ``digest/<version> (+<newsletter.base_url>)``."""
    allow_networks: tuple[str, ...] = ()
    """Non-public networks (CIDR) the feed's own links may reach, e.g. an intranet blog's."""

    def validate(self) -> None:
        try:
            parse_networks(self.allow_networks)
        except ValueError as exc:
            raise ValueError(
                f"allow_networks: expected CIDR networks like '10.1.0.0/16': {exc}"
            ) from None
        if urlsplit(self.url).scheme not in ("http", "https") or not urlsplit(self.url).hostname:
            raise ValueError(f"url: expected an http(s) URL, got {self.url!r}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone: unknown time zone {self.timezone!r}") from None
        for key in ("connect_timeout", "read_timeout", "total_timeout"):
            if getattr(self, key) <= 0:
                raise ValueError(f"{key}: expected a number of seconds above 0")
        for key in ("max_bytes", "max_entries"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key}: expected at least 1")
        for key in ("retries", "max_redirects", "full_text_max"):
            if not 0 <= getattr(self, key) <= 100:
                raise ValueError(f"{key}: expected 0 to 100")
        if self.backoff < 0 or self.max_retry_after < 0:
            raise ValueError("backoff and max_retry_after: expected 0 or more seconds")

    @property
    def allowed(self) -> tuple[Network, ...]:
        """``allow_networks`` parsed: where URLs from this feed's content may lead besides."""
        return parse_networks(self.allow_networks)

    @property
    def limits(self) -> Limits:
        return Limits(**{f.name: getattr(self, f.name) for f in fields(Limits)})


class FeedSource:
    """Reads one feed: conditional GET, parse, clean, optionally fetch full articles."""

    def __init__(
        self,
        name: str,
        options: FeedOptions,
        taxonomy: Taxonomy,
        agent: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.name = name
        self.options = options
        self.taxonomy = taxonomy
        self.agent = agent
        self.sleep = sleep
        self.clock = clock

    def collect(self, state: Mapping[str, str]) -> SourceReport:
        fetched = self.fetch(state)
        if isinstance(fetched, SourceReport):
            return fetched
        job, state_out = fetched
        return self.finish(parse(job), state_out)

    def fetch(self, state: Mapping[str, str]) -> SourceReport | tuple[ParseJob, dict[str, str]]:
        """Fetch the feed: a report when done already (failed, not modified), else a parse job
        and the state to keep once it is read."""
        opts = self.options
        validators = {k: state[k] for k in ("etag", "last_modified") if state.get(k)}
        try:
            # the operator's own URL: trusted wherever it points
            resp = fetch(
                opts.url, opts.limits, self.agent, validators=validators, sleep=self.sleep,
                allow=None,
            )  # fmt: skip
        except Gone as exc:
            log.warning("%s: %s from %s: disabling the source", self.name, exc.message, opts.url)
            return SourceReport(
                self.name, error=f"{exc.message}: the feed is gone; source disabled", disabled=True
            )
        except FetchError as exc:
            return SourceReport(self.name, error=exc.message)
        if resp.not_modified:
            return SourceReport(self.name, not_modified=True, state=dict(state))
        state_out = {
            k: v
            for k, v in (
                ("etag", resp.headers.get("etag")),
                ("last_modified", resp.headers.get("last-modified")),
            )
            if v
        }
        job = ParseJob(
            source=self.name,
            body=resp.content,
            url=resp.url,
            content_type=resp.content_type,
            feed_url=opts.url,
            timezone=opts.timezone,
            areas_map=tuple(opts.areas_map.items()),
            taxonomy=self.taxonomy.settings,
            now=self.clock(),
            max_entries=opts.max_entries,
            full_text=opts.full_text,
            full_text_max=opts.full_text_max,
        )
        return job, state_out

    def finish(self, parsed: Parsed, state_out: Mapping[str, str]) -> SourceReport:
        """The report of a parsed feed, with the wanted articles' full text fetched."""
        if parsed.error:
            return SourceReport(self.name, error=parsed.error)
        problems = list(parsed.problems)
        posts = list(parsed.posts)
        for i in parsed.wanted:
            posts[i] = self._with_full_text(posts[i], problems)
        known = dict(zip((p.text for p in parsed.posts), parsed.fingerprints, strict=False))
        return SourceReport(
            self.name, tuple(posts), tuple(problems), state=dict(state_out), fingerprints=known
        )

    def _with_full_text(self, post: Post, problems: list[Problem]) -> Post:
        """The post with its article's text, or unchanged when extraction fails or is poorer.

        A link that leads to a non-public address is not fetched, and is reported.
        """
        assert post.url is not None
        opts = self.options
        try:
            found = full_text(
                post.url, opts.limits, self.agent, sleep=self.sleep, allow=opts.allowed
            )
        except Refused as exc:
            log.warning("%s: article %s not fetched: %s", self.name, post.url, exc.message)
            message = f"full text not fetched, kept the excerpt: {exc.message}"
            problems.append(Problem(self.name, post.url, message))
            return post
        if found is None or len(found[1].split()) <= len(post.text.split()):
            log.info("%s: kept the feed's excerpt of %s", self.name, post.url)
            return post
        html, text, image = found
        return replace(
            post, text=text, html=sanitize(html, post.url) or None, image=post.image or image
        )


def make_feed_source(settings: SourceSettings, root: Settings) -> FeedSource:
    """Factory registered for ``type = "feed"``."""
    options: FeedOptions = settings.options
    agent = options.user_agent or user_agent(root.newsletter.base_url)
    return FeedSource(settings.name, options, Taxonomy(root.taxonomy), agent)
