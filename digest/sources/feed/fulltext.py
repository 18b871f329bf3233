"""Full text of an article page with trafilatura, for feeds that carry only excerpts."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from .cleanup import clean_html
from .fetch import PAGE_ACCEPT, Allow, FetchError, Limits, Refused, fetch

log = logging.getLogger(__name__)


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
) -> tuple[str, str] | None:
    """Fetch ``url`` under ``limits`` and return its article as (unsanitized HTML, clean text).

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
    return (cleaned, text) if text else None
