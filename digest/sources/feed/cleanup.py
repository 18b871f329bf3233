"""Strip blog boilerplate (share links, "appeared first on", "Read more", credits) from posts."""

from __future__ import annotations

import logging
import re
import threading
from html import escape
from typing import Any, TypeAlias

import lxml.etree

from ...text import html_to_text, paragraphs

log = logging.getLogger(__name__)
Element: TypeAlias = Any  # lxml.etree._Element; lxml ships no type hints
_local = threading.local()  # lxml parser objects must not be shared between threads


def _parser() -> Any:
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = lxml.etree.HTMLParser(
            remove_comments=True, remove_pis=True, no_network=True
        )
    return parser


_DROP_TAGS = (
    "script", "style", "noscript", "iframe", "object", "embed", "form", "template", "svg",
    "button", "input", "select", "textarea", "frame", "frameset", "applet", "link", "meta",
)  # fmt: skip
_BLOCKS = {
    "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
    "pre", "table", "tr", "section", "article", "figure", "figcaption", "hr", "header",
    "footer", "dd", "dt", "aside", "nav",
}  # fmt: skip
_CANDIDATES = ("p", "div", "figcaption", "span", "small", "em", "i", "li", "h6", "aside", "footer")
_BOILER_CLASS = re.compile(
    r"(?i)^(feedflare|sharedaddy|sd-|jp-relatedposts|share|sharing|social|addtoany|a2a|"
    r"more-link|read-more|wp-block-buttons|related-posts|yarpp|post-meta|entry-meta|comments?)"
)
_SHARE_HREF = re.compile(
    r"(?i)(facebook\.com/sharer|twitter\.com/(intent|share)|x\.com/intent|linkedin\.com/share|"
    r"reddit\.com/submit|pinterest\.com/pin/create|api\.whatsapp\.com/send|t\.me/share|"
    r"#(respond|comments?)$|[?&]share=|^mailto:\?|feeds\.feedburner\.com/~ff/|/feed/?$)"
)
_SHARE_HINTS = (
    "facebook.com/", "twitter.com/", "x.com/", "linkedin.com/", "reddit.com/", "pinterest.com/",
    "whatsapp.com/", "t.me/", "#", "share=", "mailto:", "feedburner.com/", "/feed",
)  # fmt: skip
"""Every ``_SHARE_HREF`` match holds one of these (lowercased)."""
_SHARE_TEXT = re.compile(
    r"(?i)^\W*(share( this| on \w+)?|tweet( this)?|pin it|email( this)?|print( this)?|"
    r"(leave|post|add|write) a (comment|reply)|\d+ (comments?|responses?)|comments?|"
    r"no comments( yet)?|view comments|click to \w+( on \w+)?.*|"
    r"(read|see) (the )?(more|rest|full (post|article|story))\b.*|continue reading\b.*|"
    r"keep reading\b.*)\W*$"
)
_PARAGRAPH = re.compile(
    r"(?is)^\W*("
    r"the post .{1,400} appeared first on .{1,300}|"
    r"this (entry|post) was posted in .{0,400}|"
    r"(share|like) this:?|related( posts)?:?|"
    r"(photo|image|picture|header image|featured image|illustration)s?( credits?)?"
    r"\s*(by|:|-|–|—).{0,200}|"
    r"credits?\s*:.{0,150}|"
    r"(via )?(wikimedia commons|flickr|unsplash|shutterstock|getty images).{0,60}|"
    r"(read more|continue reading|keep reading)\b.{0,200}|"
    r"\[(…|\.\.\.|&hellip;)\]"
    r")\W*$"
)
_WORDY = re.compile(r"\w")
_BLANKS = re.compile(r"\n\s*\n")
_TRAILING = re.compile(
    r"(?is)\s*(\[\s*(…|\.\.\.|&hellip;)\s*\]|(read more|continue reading|keep reading)\s*"
    r"(»|›|→|…|\.\.\.)?)\s*$"
)


def is_boilerplate(paragraph: str) -> bool:
    """True for a paragraph that is blog furniture rather than the post (or bare punctuation)."""
    if not _WORDY.search(paragraph):
        return bool(paragraph)
    return len(paragraph) < 600 and bool(_PARAGRAPH.match(paragraph))


def clean_text(text: str) -> str:
    """Plain text with boilerplate paragraphs and trailing "Read more"/"[…]" removed."""
    blocks = (" ".join(b.split()) for b in _BLANKS.split(text))
    kept = [p for p in blocks if p and not is_boilerplate(p)]
    while kept:
        last = _without_trailing(kept[-1]).rstrip()
        if last:
            kept[-1] = last
            break
        kept.pop()
    return "\n\n".join(kept)


def _without_trailing(paragraph: str) -> str:
    """A single-spaced ``paragraph`` without its trailing "[…]" or "Read more".

    Only the end is searched: such an ending is under 30 characters once single-spaced, and
    the unanchored pattern costs a try at every character (most of ``clean_text``'s time).
    """
    cut = max(0, len(paragraph) - 64)
    return paragraph[:cut] + _TRAILING.sub("", paragraph[cut:])


def text_to_html(text: str) -> str:
    """Plain text as escaped HTML paragraphs."""
    return "".join(f"<p>{escape(p)}</p>" for p in paragraphs(text))


def clean_html(html: str) -> tuple[str, str]:
    """Boilerplate-free HTML (still unsanitized) and its clean text, keeping paragraphs."""
    if not html.strip():
        return "", ""
    try:
        doc = lxml.etree.fromstring(html, _parser())
    except (lxml.etree.LxmlError, ValueError) as exc:
        log.debug("cannot parse HTML (%s); falling back to plain text", exc)
        doc = None
    body = doc.find("body") if doc is not None else None
    if body is None:
        text = clean_text(html_to_text(html))
        return text_to_html(text), text
    _strip(body)
    text = clean_text(_text_of(body))
    return lxml.etree.tostring(body, encoding="unicode", method="html"), text


def _words(el: Element) -> str:
    return " ".join("".join(el.itertext()).split())


def _drop(el: Element) -> None:
    """Remove ``el`` and its subtree, keeping the text that follows it."""
    parent = el.getparent()
    if parent is None:
        return
    if el.tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def _strip(root: Element) -> None:
    for el in list(root.iter(*_DROP_TAGS)):
        _drop(el)
    for el in list(root.iter(lxml.etree.Element)):
        marks = el.get("class") or el.get("id")
        if marks and el is not root and any(_BOILER_CLASS.match(c) for c in marks.split()):
            _drop(el)
    for img in list(root.iter("img")):
        src = img.get("src", "")
        if (img.get("width"), img.get("height")) == ("1", "1") or "feedburner.com/~r/" in src:
            _drop(img)
    for a in list(root.iter("a")):
        if _is_share_href(a.get("href", "")):
            _drop(a)
            continue
        label = _words(a)
        if label and len(label) < 80 and _SHARE_TEXT.match(label):
            _drop(a)
    for el in list(root.iter(*_CANDIDATES)):
        if el.getparent() is None:
            continue
        raw = "".join(el.itertext())
        if len(raw) > 2000:
            continue
        words = " ".join(raw.split())
        if is_boilerplate(words) or (not _WORDY.search(words) and _empty(el)):
            _drop(el)
    _trim_tail(root)


def _is_share_href(href: str) -> bool:
    """True for a share, comment or feed link; a plain link costs a few substring tests
    instead of the pattern's try at every character."""
    lowered = href.lower()
    return any(s in lowered for s in _SHARE_HINTS) and bool(_SHARE_HREF.search(href))


def _empty(el: Element) -> bool:
    return el.tag in ("p", "span", "small", "em", "i", "li", "figcaption") and not any(
        True for _ in el.iter("img", "br", "hr")
    )


def _trim_tail(root: Element) -> None:
    """Remove a trailing "[…]" or "Read more" from the last text in the fragment."""
    for el in reversed(list(root.iter(lxml.etree.Element))):
        for attr in ("tail", "text"):
            value = getattr(el, attr)
            if value and value.strip():
                setattr(el, attr, _TRAILING.sub("", value))
                return


def _text_of(root: Element) -> str:
    parts: list[str] = []

    def walk(el: Element) -> None:
        block = el.tag in _BLOCKS
        if block:
            parts.append("\n\n")
        if el.text:
            parts.append(el.text)
        for child in el:
            if isinstance(child.tag, str):
                walk(child)
            if child.tail:
                parts.append(child.tail)
        if block:
            parts.append("\n\n")

    walk(root)
    return "".join(parts)
