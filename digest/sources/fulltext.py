"""Full text of an article page with trafilatura, for feeds that carry only excerpts."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from html.parser import HTMLParser
from typing import NamedTuple
from urllib.parse import urljoin

from ..models import Image
from .cleanup import clean_html
from .fetch import PAGE_ACCEPT, Allow, FetchError, Limits, Refused, fetch
from .images import image_of

log = logging.getLogger(__name__)


HEAD_BYTES = 300_000
"""How much of a page is searched for its ``og:image`` (it sits in the head)."""


class Article(NamedTuple):
    """An article page's main content, as unsanitized HTML and clean text, and its picture."""

    html: str
    text: str
    image: Image | None = None


class _OpenGraph(HTMLParser):
    """The ``og:image`` meta properties of a page's head."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "meta":
            return
        values = dict(attrs)
        key = (values.get("property") or values.get("name") or "").strip().lower()
        if key.startswith("og:image") and key not in self.found:
            self.found[key] = (values.get("content") or "").strip()


def og_image(page: bytes | str, url: str) -> Image | None:
    """The page's ``og:image`` (public https only), with its size and alt text when given."""
    head = page[:HEAD_BYTES]
    text = head.decode("utf-8", "replace") if isinstance(head, bytes) else head
    parser = _OpenGraph()
    try:
        parser.feed(text)
    except Exception:  # html.parser may raise on hostile markup: no picture then
        return None
    og = parser.found
    src = og.get("og:image:secure_url") or og.get("og:image") or og.get("og:image:url")
    if not src:
        return None
    width, height = og.get("og:image:width"), og.get("og:image:height")
    return image_of(urljoin(url, src), width, height, og.get("og:image:alt", ""))


def extract_html(page: bytes | str, url: str) -> str | None:
    """The main content of an HTML page as simple HTML, or None when none is found."""
    try:
        import trafilatura  # slow to import; only feeds with full text need it
    except ImportError as exc:  # a broken install must not sink the source
        log.warning("full text is unavailable: cannot import trafilatura: %s", exc)
        return None
    try:
        found: str | None = trafilatura.extract(
            page,
            url=url,
            output_format="html",
            include_comments=False,
            include_images=False,
            include_links=True,
            include_tables=True,
            favor_precision=True,
        )
    except Exception as exc:  # trafilatura raises assorted errors on odd markup
        log.info("%s: extraction failed: %s", url, exc)
        return None
    return found or None


def full_text(
    url: str,
    limits: Limits,
    agent: str,
    *,
    allow: Allow,
    sleep: Callable[[float], None] = time.sleep,
) -> Article | None:
    """Fetch ``url`` under ``limits`` and return its article: unsanitized HTML, clean text and
    its ``og:image``.

    None when the page cannot be fetched, is not HTML, or holds no recognizable article;
    ``Refused`` is raised when the URL leads to an address ``allow`` does not let it reach.
    """
    try:
        page = fetch(url, limits, agent, accept=PAGE_ACCEPT, sleep=sleep, allow=allow)
    except Refused:
        raise
    except FetchError as exc:
        log.info("%s: cannot fetch the article: %s", url, exc.message)
        return None
    kind = page.content_type.split(";")[0].strip().lower()
    if kind and kind not in ("text/html", "application/xhtml+xml"):
        log.info("%s: not an HTML page (%s)", url, kind)
        return None
    html = extract_html(page.content, page.url)
    if html is None:
        return None
    cleaned, text = clean_html(html)
    return Article(cleaned, text, og_image(page.content, page.url)) if text else None
