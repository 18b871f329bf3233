"""Feed documents to items: RSS 0.9x/1.0/2.0 and Atom through feedparser, and JSON Feed 1.x."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import feedparser

from ..errors import SourceError
from ..models import Image
from ..text import html_to_text, squash
from .images import image_of

_HTML_TYPES = ("text/html", "application/xhtml+xml", "html", "xhtml")
_SINGLE_BYTE = {"iso-8859-1", "latin-1", "latin1", "l1", "windows-1252", "cp1252", "us-ascii"}
_XML_DECL = re.compile(rb"^(\s*<\?xml[^>]*?encoding\s*=\s*[\"'])([\w.:-]+)([\"'])", re.I)
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
_SUBSET = re.compile(rb"<!DOCTYPE[^\[>]*\[(.*?)\]\s*>", re.S | re.I)
_BENIGN_BOZO = ("CharacterEncodingOverride", "NonXMLContentType")
_FEED_LINK = re.compile(
    r"<link[^>]+type=[\"']application/(?:rss|atom|feed)\+(?:xml|json)[\"'][^>]*>", re.I
)


class FeedFormatError(SourceError):
    """The body is not a feed digest can read."""


@dataclass(frozen=True, slots=True)
class Item:
    """One feed entry, format-neutral, before it becomes a Post."""

    where: str
    guid: str | None
    title: str
    link: str | None
    authors: tuple[str, ...]
    date: str | None
    """The entry's published (else updated) date exactly as written."""
    date_utc: tuple[int, ...] | None
    """feedparser's reading of it as UTC, used when the raw string defeats our parser."""
    tags: tuple[str, ...]
    content: str
    content_is_html: bool
    full_content: bool
    """True when the content came from content:encoded / Atom content / content_html."""
    base: str
    image: Image | None = None
    """The entry's picture: media:content, media:thumbnail or an image enclosure (https)."""


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A feed's kind, title and items, plus notes about a lenient read."""

    kind: str
    title: str
    items: tuple[Item, ...]
    problems: tuple[tuple[str, str], ...] = ()
    """(where, what) notes; where is "" for the feed as a whole."""


def parse_feed(body: bytes, url: str, content_type: str = "") -> ParsedFeed:
    """Parse a feed body fetched from ``url``; raise FeedFormatError if it is not a feed."""
    head = body[:2048].lstrip(b"\xef\xbb\xbf \t\r\n")
    if "json" in content_type.lower() or head.startswith(b"{"):
        return _json_feed(body, url)
    _refuse_entities(body)
    body, content_type = _fix_encoding(body, content_type)
    # No content-location: feedparser would urljoin at every element (a third of its time);
    # links are resolved against xml:base or the feed URL when the items become posts.
    doc = feedparser.parse(
        body,
        response_headers={"content-type": content_type or "text/xml"},
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    bozo = doc.get("bozo_exception")
    if not doc.get("version") and not doc.entries:
        text = body[:4096].decode("latin-1").lower()
        if "<html" in text or "<!doctype html" in text:
            link = _FEED_LINK.search(body[:65536].decode("latin-1"))
            hint = f" (it links to a feed: {_href(link.group(0), url)})" if link else ""
            raise FeedFormatError(f"not a feed: the server sent an HTML page{hint}", subject=url)
        why = f"malformed XML ({bozo})" if bozo else "no RSS, Atom or JSON Feed found"
        raise FeedFormatError(f"not a feed: {why}", subject=url)
    problems: list[tuple[str, str]] = []
    if bozo is not None and type(bozo).__name__ not in _BENIGN_BOZO:
        problems.append(("", f"malformed XML, read leniently: {bozo}"))
    feed = doc.get("feed", {})
    inherit = str(doc.get("version", "")).startswith("atom")
    feed_authors = _names(feed.get("authors"), feed.get("author")) if inherit else ()
    items = tuple(
        _from_feedparser(entry, f"entry {i}", feed_authors, url)
        for i, entry in enumerate(doc.entries, start=1)
    )
    kind = str(doc.get("version") or "xml")
    return ParsedFeed(kind, str(feed.get("title", "")), items, tuple(problems))


def _href(tag: str, base: str) -> str:
    found = re.search(r"href=[\"']([^\"']+)", tag, re.I)
    return urljoin(base, found.group(1)) if found else "?"


def _refuse_entities(body: bytes) -> None:
    """Refuse DTD entity declarations: the stuff of billion-laughs and external-entity attacks."""
    subset = _SUBSET.search(body[:1_000_000])
    if subset and b"<!ENTITY" in subset.group(1).upper():
        raise FeedFormatError(
            "not read: the feed declares XML entities (a possible entity-expansion bomb)"
        )


def _fix_encoding(body: bytes, content_type: str) -> tuple[bytes, str]:
    """Repair the two common lies: UTF-8 declared as Latin-1, and Latin-1 declared as UTF-8."""
    header = _CHARSET.search(content_type)
    decl = _XML_DECL.match(body[:512])
    declared = (header.group(1) if header else decl.group(2).decode() if decl else "utf-8").lower()
    if body.isascii():
        return body, content_type
    try:
        text = body.decode("utf-8-sig")
        utf8 = True
    except UnicodeDecodeError:
        utf8 = False
    if utf8 and declared in _SINGLE_BYTE:
        fixed = body
    elif not utf8 and declared in ("utf-8", "utf8"):
        text = body.decode("cp1252", errors="replace")
        fixed = text.encode("utf-8")
    else:
        return body, content_type
    if decl:
        fixed = _XML_DECL.sub(rb"\1utf-8\3", fixed, count=1)
    return fixed, "application/xml; charset=utf-8"


def _names(authors: Any, author: Any) -> tuple[str, ...]:
    names: list[str] = []
    for a in authors or ():
        if isinstance(a, dict):
            name = squash(str(a.get("name") or a.get("email") or ""))
            if name and name not in names:
                names.append(name)
    if not names and isinstance(author, str) and author.strip():
        names.append(squash(author))
    return tuple(names)


def _from_feedparser(e: Any, where: str, feed_authors: tuple[str, ...], url: str) -> Item:
    content, is_html, full, base = _content(e, url)
    detail = e.get("title_detail") or {}
    title = str(e.get("title") or "")
    if detail.get("type") in _HTML_TYPES:
        title = html_to_text(title)
    tags = tuple(str(t.get("term") or t.get("label") or "") for t in e.get("tags") or ())
    # dict.get: FeedParserDict.get maps updated to published with a DeprecationWarning
    date_utc = dict.get(e, "published_parsed") or dict.get(e, "updated_parsed")
    return Item(
        where=where,
        guid=str(e["id"]).strip() if e.get("id") else None,
        title=squash(title),
        link=e.get("feedburner_origlink") or e.get("link") or None,
        authors=_names(e.get("authors"), e.get("author")) or feed_authors,
        date=dict.get(e, "published") or dict.get(e, "updated") or None,
        date_utc=tuple(date_utc[:6]) if date_utc else None,
        tags=tuple(t for t in tags if t.strip()),
        content=content,
        content_is_html=is_html,
        full_content=full,
        base=base,
        image=_picture(e, base),
    )


def _is_image(kind: object, medium: object = None) -> bool:
    return medium == "image" or str(kind or "").lower().startswith("image/")


def _picture(e: Any, base: str) -> Image | None:
    """The entry's first usable picture: media:content, then media:thumbnail, then an image
    enclosure; relative URLs resolved against the entry, anything but public https refused."""
    candidates: list[tuple[Any, Any, Any]] = []
    for media in e.get("media_content") or ():
        if isinstance(media, dict) and _is_image(media.get("type"), media.get("medium")):
            candidates.append((media.get("url"), media.get("width"), media.get("height")))
    for thumb in e.get("media_thumbnail") or ():
        if isinstance(thumb, dict):
            candidates.append((thumb.get("url"), thumb.get("width"), thumb.get("height")))
    for link in e.get("enclosures") or ():
        if isinstance(link, dict) and _is_image(link.get("type")):
            candidates.append((link.get("href"), None, None))
    for url, width, height in candidates:  # no alt: feedparser files media:description as
        if isinstance(url, str) and url.strip():  # the summary; the email uses the title
            image = image_of(urljoin(base, url.strip()), width, height)
            if image is not None:
                return image
    return None


def _json_picture(obj: dict[str, Any], base: str) -> Image | None:
    """A JSON Feed item's ``image`` (else ``banner_image``), public https only."""
    picture = _s(obj.get("image")) or _s(obj.get("banner_image"))
    return image_of(urljoin(base, picture)) if picture else None


def _content(e: Any, url: str) -> tuple[str, bool, bool, str]:
    """The richest body of an entry: content:encoded / Atom content, else the summary."""
    best = None
    for c in e.get("content") or ():
        if c.get("value") and (best is None or len(c["value"]) > len(best["value"])):
            best = c
    full = best is not None
    if best is None:
        best = e.get("summary_detail") or {"value": e.get("summary", ""), "type": "text/html"}
    kind = best.get("type") or "text/html"
    base = best.get("base") or url
    return str(best.get("value") or ""), kind in _HTML_TYPES, full, urljoin(url, base)


def _json_feed(body: bytes, url: str) -> ParsedFeed:
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise FeedFormatError(f"not a feed: invalid JSON ({exc})", subject=url) from None
    version = str(data.get("version", "")) if isinstance(data, dict) else ""
    if not version.startswith("https://jsonfeed.org/version/"):
        raise FeedFormatError("not a feed: JSON without a JSON Feed version", subject=url)
    raw_items = data.get("items")
    if not isinstance(raw_items, list):
        raise FeedFormatError("not a feed: JSON Feed without an items list", subject=url)
    feed_authors = _json_authors(data)
    items: list[Item] = []
    problems: list[tuple[str, str]] = []
    for i, obj in enumerate(raw_items, start=1):
        if not isinstance(obj, dict):
            problems.append((f"item {i}", "not a JSON object"))
            continue
        items.append(_from_json(obj, f"item {i}", feed_authors, url))
    kind = "json" + version.rsplit("/", 1)[-1].replace(".", "")
    return ParsedFeed(kind, _s(data.get("title")) or "", tuple(items), tuple(problems))


def _s(value: Any) -> str | None:
    if isinstance(value, str | int) and not isinstance(value, bool):
        text = str(value).strip()
        return text or None
    return None


def _json_authors(obj: dict[str, Any]) -> tuple[str, ...]:
    people = obj.get("authors")
    if not isinstance(people, list):
        people = [obj["author"]] if isinstance(obj.get("author"), dict) else []
    return _names([p for p in people if isinstance(p, dict)], None)


def _from_json(obj: dict[str, Any], where: str, feed_authors: tuple[str, ...], url: str) -> Item:
    link = _s(obj.get("url")) or _s(obj.get("external_url"))
    link = urljoin(url, link) if link else None
    html, text = _s(obj.get("content_html")), _s(obj.get("content_text"))
    summary = _s(obj.get("summary"))
    if html:
        content, is_html = html, True
    else:
        content, is_html = text or summary or "", False
    raw_tags = obj.get("tags")
    tags: list[Any] = raw_tags if isinstance(raw_tags, list) else []
    return Item(
        where=where,
        guid=_s(obj.get("id")),
        title=squash(_s(obj.get("title")) or ""),
        link=link,
        authors=_json_authors(obj) or feed_authors,
        date=_s(obj.get("date_published")) or _s(obj.get("date_modified")),
        date_utc=None,
        tags=tuple(t for t in (_s(t) for t in tags) if t),
        content=content,
        content_is_html=is_html,
        full_content=bool(html or text),
        base=link or url,
        image=_json_picture(obj, link or url),
    )
