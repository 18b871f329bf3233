"""Text helpers shared by sources: HTML to clean paragraphs, sanitizing, whitespace."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

import nh3

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "em", "figcaption", "figure", "h2", "h3",
    "h4", "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "q", "s", "strong", "sub",
    "sup", "table", "tbody", "td", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
ALLOWED_SCHEMES = {"http", "https", "mailto"}

_BLOCK_TAGS = {
    "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
    "pre", "table", "tr", "section", "article", "figure", "figcaption", "hr", "header",
    "footer", "dd", "dt",
}  # fmt: skip
_SKIP_TAGS = {"script", "style", "noscript", "template", "iframe", "object", "svg", "head"}
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_BLANKS = re.compile(r"\n\s*\n+")


def squash(text: str) -> str:
    """Collapse runs of spaces (including no-break spaces) and trim."""
    return _SPACES.sub(" ", text).strip()


def paragraphs(text: str) -> list[str]:
    """Split text into non-empty paragraphs on blank lines, each squashed to one line."""
    out = []
    for block in _BLANKS.split(text.replace("\r\n", "\n")):
        para = squash(block.replace("\n", " "))
        if para:
            out.append(para)
    return out


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self.skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment, one paragraph per block element, scripts dropped."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return "\n\n".join(paragraphs(unescape("".join(parser.parts))))


def sanitize_html(html: str) -> str:
    """Sanitize untrusted HTML to an allowlist: no scripts, handlers or unsafe URL schemes."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_SCHEMES,
        clean_content_tags=_SKIP_TAGS - {"head"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def printable(text: str) -> str:
    """``text`` without control characters other than tab and line breaks.

    They mean nothing in an email, and rendering uses a few of them as internal markers.
    """
    return _CONTROL.sub("", text)


_WEB_URL = re.compile(r"(?i)^https?://[^\s/]")


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL, else None (drops javascript:, data:, ...)."""
    if not url:
        return None
    url = url.strip()
    return url if _WEB_URL.match(url) else None
