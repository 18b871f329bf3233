"""Parse the plain-text blog page format (site, title, caption, body, Author, Area of Focus).

The layout is the one Foreign Policy Blogs pages have when saved as text: blocks separated by
blank lines (a line holding only a no-break space counts as blank), ending with an ``Author``
block, an ``Area of Focus`` block whose areas are ``;``-separated, and a trailing ``Contact``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...errors import PostParseError
from ...text import squash

_CREDIT = re.compile(
    r"^(photo|image|picture|graphic|illustration|video)s?\s*(from|by|credit|courtesy|:)"
    r"|^(credit|source)\s*:|^\(?(ap|afp|reuters|getty)( images)?\s*photo",
    re.IGNORECASE,
)
_LABELS = {"author", "authors", "area of focus", "areas of focus", "contact"}


@dataclass(frozen=True, slots=True)
class BlogPage:
    """The fields of one parsed page."""

    site: str
    title: str
    caption: str | None
    paragraphs: tuple[str, ...]
    credit: str | None
    author: str | None
    bio: str
    areas: tuple[str, ...]


def is_credit(line: str) -> bool:
    """True for a photo credit line such as ``Photo from Sebastien Pirlet/Reuters.``."""
    return bool(_CREDIT.search(line.strip()))


def _blocks(text: str) -> list[tuple[int, list[str]]]:
    """Blocks of consecutive non-blank lines, each with its 1-based first line number."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = squash(raw)
        if not line:
            if current:
                blocks.append((start, current))
                current = []
            continue
        if not current:
            start = number
        current.append(line)
    if current:
        blocks.append((start, current))
    return blocks


def _looks_like_caption(block: list[str]) -> bool:
    line = " ".join(block)
    return len(block) == 1 and len(line.split()) <= 12 and not line.endswith((".", "?", "!", '"'))


def parse_blog_page(text: str, origin: str) -> BlogPage:
    """Parse one page; raise PostParseError naming ``origin`` and line when it is not one."""
    text = text.lstrip("\ufeff")
    blocks = _blocks(text)
    labels = [i for i, (_, lines) in enumerate(blocks) if lines[0].lower() in _LABELS]
    end = labels[0] if labels else len(blocks)
    if end < 3:
        line = blocks[end - 1][0] if blocks and end else 1
        raise PostParseError(
            "expected a site name, a title and at least one body paragraph before 'Author'",
            subject=f"{origin}:{line}",
            hint="separate the site name, title and paragraphs with blank lines",
        )
    site, title = " ".join(blocks[0][1]), " ".join(blocks[1][1])
    body = [lines for _, lines in blocks[2:end]]
    caption = " ".join(body.pop(0)) if len(body) > 1 and _looks_like_caption(body[0]) else None
    credit = None
    paras: list[str] = []
    for lines in body:
        para = " ".join(lines)
        if is_credit(para):
            credit = para
        else:
            paras.append(para)
    if not paras:
        raise PostParseError(
            "no body paragraphs found", subject=f"{origin}:{blocks[1][0]}", hint="add the post text"
        )
    author, bio, areas = _tail(blocks[end:], origin)
    return BlogPage(site, title, caption, tuple(paras), credit, author, bio, areas)


def _tail(
    blocks: list[tuple[int, list[str]]], origin: str
) -> tuple[str | None, str, tuple[str, ...]]:
    author: str | None = None
    bio_parts: list[str] = []
    areas: tuple[str, ...] = ()
    section = ""
    for line_no, lines in blocks:
        head = lines[0].lower()
        if head in _LABELS:
            section = head
            lines = lines[1:]
            if not lines:
                continue
        if section.startswith("author"):
            if author is None:
                author = lines[0]
                bio_parts.extend(lines[1:])
            else:
                bio_parts.extend(lines)
        elif section.startswith("area"):
            areas += tuple(a for a in (squash(x) for x in ";".join(lines).split(";")) if a)
        elif section == "contact":
            break
        else:  # pragma: no cover - labels[0] always starts a section
            raise PostParseError("unexpected text", subject=f"{origin}:{line_no}")
    return author, " ".join(bio_parts), areas
