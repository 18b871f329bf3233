"""Feed items to posts: canonical links, stable guids, zoned dates, areas and clean content."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

import nh3

from ..errors import PostParseError
from ..models import Post
from ..taxonomy import Taxonomy, area_key
from ..text import ALLOWED_ATTRIBUTES, ALLOWED_SCHEMES, ALLOWED_TAGS, safe_url
from .cleanup import clean_html, clean_text, text_to_html
from .feedparse import Item

log = logging.getLogger(__name__)

FUTURE_SLACK = timedelta(days=1)
"""Dates further ahead than this are treated as wrong, and the collection time is used."""
EXCERPT_WORDS = 150
_TRUNCATED = re.compile(r"(?is)(\[\s*(…|\.\.\.|&hellip;|&#8230;)\s*\]|…|\.\.\.|read more\W*)\s*$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)
_URL_ATTRS = {"href", "src"}


@dataclass(frozen=True)
class EntryContext:
    """What turning one feed's items into posts needs to know."""

    source: str
    feed_url: str
    zone: ZoneInfo
    taxonomy: Taxonomy
    areas_map: Mapping[str, str] = field(default_factory=dict)
    """Keys are area keys (see ``taxonomy.area_key``); an empty value drops the category."""
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


def canonical_url(link: str | None, base: str) -> str | None:
    """The entry's link resolved against the feed (or ``xml:base``), http(s) only.

    The link is otherwise kept as the feed gives it; tracking parameters only stop mattering
    for de-duplication (see ``digest.urls.normalize_url``).
    """
    if not link:
        return None
    return safe_url(urljoin(base, link.strip()))


def sanitize(html: str, base: str) -> str:
    """Display HTML: nh3 allowlist, relative links made absolute, only http(s)/mailto URLs."""

    parts = urlsplit(base)
    origin = f"{parts.scheme}://{parts.netloc}"

    def fix(tag: str, attr: str, value: str) -> str | None:
        if attr not in _URL_ATTRS:
            return value
        value = value.strip()
        if value.startswith(("https://", "http://")):
            return value
        if value.startswith("/") and not value.startswith("//"):
            return origin + value
        url = urljoin(base, value)
        scheme = urlsplit(url).scheme.lower()
        return url if scheme in ALLOWED_SCHEMES else None

    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=fix,
        url_schemes=ALLOWED_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    ).strip()


def parse_date(raw: str | None, utc: tuple[int, ...] | None, zone: ZoneInfo) -> datetime | None:
    """An aware datetime: offsets as written, naive times in ``zone``, else feedparser's UTC."""
    value = _parse_raw(raw.strip()) if raw else None
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    if value is None and utc:
        try:
            y, mo, d, h, mi, s = utc[:6]
            value = datetime(y, mo, d, h, mi, s, tzinfo=UTC)
        except (TypeError, ValueError):
            value = None
    if value is None:
        return None
    try:
        value.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    return value


def _parse_raw(raw: str) -> datetime | None:
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None


def areas_of(tags: tuple[str, ...], ctx: EntryContext) -> tuple[str, ...]:
    """Categories that name an area, through the source's map, then the taxonomy.

    Unknown categories (tags like "NATO") are dropped, unless the taxonomy lists no areas.
    """
    taxonomy = ctx.taxonomy
    keep_all = not taxonomy.names
    found: list[str] = []
    for tag in tags:
        mapped = ctx.areas_map.get(area_key(tag))
        if mapped is not None:
            found.extend([mapped] if mapped else [])
        elif keep_all or taxonomy.is_known(tag):
            found.append(tag)
    return taxonomy.normalize(found)


def author_of(names: tuple[str, ...]) -> str | None:
    """Every author's name, joined as a reader would write them."""
    if not names:
        return None
    if len(names) == 1:
        return names[0]
    return f"{', '.join(names[:-1])} and {names[-1]}"


def is_excerpt(item: Item, text: str) -> bool:
    """True when the feed seems to carry only a teaser of the post."""
    if item.full_content:
        return False
    return len(text.split()) < EXCERPT_WORDS or bool(_TRUNCATED.search(item.content[-200:]))


def body_of(item: Item) -> tuple[str, str]:
    """Sanitized display HTML and clean text of an item's content."""
    if item.content_is_html:
        html, text = clean_html(item.content)
    else:
        text = clean_text(item.content)
        html = text_to_html(text)
    return sanitize(html, item.base), text


def to_post(item: Item, ctx: EntryContext) -> Post:
    """One item as a Post; raise PostParseError when there is nothing to show."""
    url = canonical_url(item.link, item.base)
    html, text = body_of(item)
    title = item.title or _title_from(text)
    if not title and not url:
        raise PostParseError("entry has no title, link or content", subject=item.where)
    published = parse_date(item.date, item.date_utc, ctx.zone)
    if published is not None and published > ctx.now + FUTURE_SLACK:
        log.warning(
            "%s: %s is dated %s, in the future; using the collection time",
            ctx.source,
            item.where,
            published.isoformat(),
        )
        published = None
    return Post(
        source=ctx.source,
        guid=_guid(item, url, title, text, ctx.feed_url),
        title=title or url or "",
        text=text,
        url=url,
        author=author_of(item.authors),
        areas=areas_of(item.tags, ctx),
        published=published,
        html=html or None,
        image=item.image,
        origin=f"{ctx.feed_url} ({item.where})",
    )


def _title_from(text: str) -> str:
    words = text.split()
    return " ".join(words[:12]) + ("…" if len(words) > 12 else "")


def _guid(item: Item, url: str | None, title: str, text: str, feed_url: str) -> str:
    """The entry's id; ids that are not URIs ("42") are scoped to the feed they came from."""
    if item.guid:
        return item.guid if _SCHEME.match(item.guid) else f"{feed_url}#{item.guid}"
    if url:
        return url
    digest = hashlib.sha1(
        "\x1f".join((feed_url, title, item.date or "", text[:1000])).encode(), usedforsecurity=False
    ).hexdigest()
    return f"{feed_url}#sha1:{digest}"
