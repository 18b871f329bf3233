"""Parse Markdown posts with YAML front matter (title, author, date, areas, url)."""

from __future__ import annotations

import reprlib
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from email.utils import parsedate_to_datetime
from typing import Any

import yaml
from markdown_it import MarkdownIt

from ...errors import PostParseError
from ...text import html_to_text, sanitize_html

_md = MarkdownIt("commonmark", {"html": True})  # raw HTML is allowed, then sanitized
_FIELDS = {"title", "author", "date", "areas", "url", "guid", "bio", "tags", "categories"}
MAX_FRONT_MATTER = 64 * 1024
"""Characters of YAML a post may carry; a title, dates and a few lists need far fewer."""
MAX_DEPTH = 20
"""Nesting of YAML lists and mappings; front matter needs two levels."""
_short = reprlib.Repr()
_short.maxstring = _short.maxother = 80


class _FrontMatterLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and deep nesting.

    A post file is written by strangers: ``*alias`` lets a few hundred bytes stand for a
    structure of billions of nodes (a "billion laughs"), which anything that walks or prints
    it expands. Front matter never needs one.
    """

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in front matter", event.start_mark
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                problem = f"nested deeper than {MAX_DEPTH} levels"
                raise yaml.composer.ComposerError(None, None, problem, mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


@dataclass(frozen=True, slots=True)
class MarkdownPost:
    """The fields of one parsed Markdown post."""

    title: str
    author: str | None
    published: datetime | None
    areas: tuple[str, ...]
    url: str | None
    guid: str | None
    bio: str
    text: str
    html: str


def parse_date(value: Any, tz: tzinfo, where: str) -> datetime | None:
    """A timezone-aware datetime from a YAML date/datetime or an ISO 8601 / RFC 2822 string."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time(0, 0))
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            try:
                parsed = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                raise PostParseError(
                    f"date: cannot read {_short.repr(value)}",
                    subject=where,
                    hint="use ISO 8601, e.g. 2026-11-23T09:30:00-05:00",
                ) from None
    else:
        raise PostParseError(f"date: expected a date, got {_short.repr(value)}", subject=where)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def _areas(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(a.strip() for a in value.split(";") if a.strip())
    if isinstance(value, list) and all(isinstance(a, str) for a in value):
        return tuple(a.strip() for a in value if a.strip())
    raise PostParseError(
        f"areas: expected a list of strings or a ';'-separated string, got {_short.repr(value)}",
        subject=where,
    )


def _split(text: str, origin: str) -> tuple[dict[str, Any], str, int]:
    lines = text.lstrip("\ufeff").splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise PostParseError(
            "expected YAML front matter starting with '---' on line 1", subject=f"{origin}:1"
        )
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            block = "".join(lines[1:i])
            if len(block) > MAX_FRONT_MATTER:
                raise PostParseError(
                    f"front matter is {len(block):,} characters; at most {MAX_FRONT_MATTER:,}",
                    subject=f"{origin}:2",
                    hint="keep the body below the closing '---'",
                )
            try:
                meta = yaml.load(block, Loader=_FrontMatterLoader) or {}
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                line = 2 + mark.line if mark is not None else 1
                problem = getattr(exc, "problem", None) or str(exc)
                raise PostParseError(
                    f"invalid YAML: {problem}", subject=f"{origin}:{line}"
                ) from None
            if not isinstance(meta, dict):
                raise PostParseError("front matter must be a mapping", subject=f"{origin}:2")
            return meta, "".join(lines[i + 1 :]), i + 2
    raise PostParseError("front matter is never closed with '---'", subject=f"{origin}:1")


def parse_markdown_post(text: str, origin: str, tz: tzinfo) -> MarkdownPost:
    """Parse one Markdown file; raise PostParseError naming ``origin`` and line on bad input."""
    meta, body, body_line = _split(text, origin)
    where = f"{origin}:2"
    unknown = sorted(set(meta) - _FIELDS)
    if unknown:
        raise PostParseError(
            f"unknown front matter key {unknown[0]!r}",
            subject=where,
            hint=f"known keys: {', '.join(sorted(_FIELDS))}",
        )
    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        raise PostParseError("front matter needs a non-empty 'title'", subject=where)
    html = sanitize_html(_md.render(body))
    text_body = html_to_text(html)
    if not text_body:
        raise PostParseError("the post has no body text", subject=f"{origin}:{body_line}")
    areas = _areas(meta.get("areas"), where) or _areas(
        meta.get("categories") or meta.get("tags"), where
    )
    author = meta.get("author")
    return MarkdownPost(
        title=title.strip(),
        author=str(author).strip() if author else None,
        published=parse_date(meta.get("date"), tz, where),
        areas=areas,
        url=str(meta["url"]).strip() if meta.get("url") else None,
        guid=str(meta["guid"]).strip() if meta.get("guid") else None,
        bio=str(meta.get("bio") or "").strip(),
        text=text_body,
        html=html,
    )
