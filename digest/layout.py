"""Assemble one issue's segment emails from partial renders cached across segments.

The layouts (``digest.mjml.j2``, ``digest.txt.j2``) are rendered once per issue with slots;
the table of contents, sections and the "also"/"more" block are rendered once per distinct
content and joined into each segment's MJML, so a segment costs little more than its compile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from .models import Digest, DigestPost, RenderedEmail
from .overflow import Layout, SectionLayout, fit
from .render import EMAIL_TEMPLATE, TEXT_TEMPLATE, compile_mjml, template_errors
from .segments import Audience, SegmentEmail, SegmentView, view

if TYPE_CHECKING:
    from .render import Renderer

_SLOT = "\x01"
_REF = "\x02"
TITLE = "partials/title.mjml.j2"


@dataclass(frozen=True, slots=True)
class TocEntry:
    """A section in the table of contents."""

    area: str
    total: int


@dataclass(frozen=True, slots=True)
class Toc:
    """The table of contents of one segment."""

    areas: tuple[str, ...]
    sections: tuple[TocEntry, ...]
    posts: int
    also: int


def _slot(name: str) -> Markup:
    return Markup(f"{_SLOT}{name}{_SLOT}")


def _ref(url: str) -> str:
    return f"{_REF}{url}{_REF}"


def _tidy(text: str) -> str:
    return "\n".join(line.rstrip() for line in str(text).split("\n"))


def _skeleton(rendered: str) -> list[str]:
    """Split a layout rendered with slots into literal text (even) and slot names (odd)."""
    return str(rendered).split(_SLOT)


def _fill(skeleton: list[str], parts: dict[str, str]) -> str:
    return "".join(parts[p] if i % 2 else p for i, p in enumerate(skeleton))


class IssueRender:
    """Renders the segments of one issue; every partial is rendered once per distinct input."""

    def __init__(self, renderer: Renderer, digest: Digest):
        self.renderer = renderer
        self.digest = digest
        ctx = renderer.context(digest)
        nl = renderer.settings.newsletter
        ctx["subject"] = renderer.string("subject", nl.subject, ctx)
        ctx["preheader"] = renderer.string("preheader", nl.preheader, ctx)
        self.base = {**ctx, "titles": self._titles}
        self._cache: dict[tuple[Any, ...], str] = {}
        self._text: dict[tuple[Any, ...], list[str]] = {}
        with template_errors(EMAIL_TEMPLATE):
            layout = renderer.template(EMAIL_TEMPLATE).render(ctx, slot=_slot)
        self.mjml_skeleton = _skeleton(layout)
        with template_errors(TEXT_TEMPLATE):
            self.text_module = renderer.template(TEXT_TEMPLATE).make_module(
                {**ctx, "slot": _slot, "ref": _ref, "title_lines": self._title_lines}
            )
            self.text_skeleton = _skeleton(_tidy(str(self.text_module)))

    def _once(self, key: tuple[Any, ...], make: Callable[[], str]) -> str:
        out = self._cache.get(key)
        if out is None:
            out = self._cache[key] = make()
        return out

    def _partial(self, name: str, **ctx: Any) -> str:
        with template_errors(name):
            return self.renderer.template(name).render(self.base, **ctx)

    def _titles(self, posts: Iterable[DigestPost]) -> Markup:
        """Each post's ``partials/title.mjml.j2``, joined (for ``titles(posts)``)."""
        return Markup(
            "".join(
                self._once(("title", id(p)), lambda p=p: self._partial(TITLE, post=p))  # type: ignore[misc]
                for p in posts
            )
        )

    def _title_lines(self, posts: Iterable[DigestPost]) -> str:
        """Each post's ``title_line`` macro, one per line (for ``title_lines(posts)``)."""
        return "\n".join(
            self._once(("t-title", id(p)), lambda p=p: self._macro("title_line", p))  # type: ignore[misc]
            for p in posts
        )

    def _macro(self, name: str, *args: Any) -> str:
        with template_errors(TEXT_TEMPLATE):
            return _tidy(getattr(self.text_module, name)(*args))

    def _text_part(self, key: tuple[Any, ...], name: str, *args: Any) -> list[str]:
        """A text macro's output, trimmed, split at link references (text at even indexes)."""
        out = self._text.get(key)
        if out is None:
            out = self._text[key] = self._macro(name, *args).strip("\n").split(_REF)
        return out

    @staticmethod
    def toc(segment: SegmentView) -> Toc:
        entries = tuple(TocEntry(s.area, len(s.posts)) for s in segment.sections)
        posts = sum(e.total for e in entries)
        return Toc(segment.areas, entries, posts, len(segment.also))

    @staticmethod
    def _key(section: SectionLayout) -> tuple[Any, ...]:
        return (section.area, section.total, *map(id, section.posts), 0, *map(id, section.lines))

    def mjml(self, toc: Toc, layout: Layout) -> str:
        """The segment's MJML at one collapse level."""
        toc_part = self._once(("toc", toc), lambda: self._partial("partials/toc.mjml.j2", toc=toc))
        body = [
            self._once(
                ("section", *self._key(s)),
                lambda s=s: self._partial("partials/section.mjml.j2", section=s),  # type: ignore[misc]
            )
            for s in layout.sections
        ]
        if layout.also or layout.more:
            body.append(
                self._once(
                    ("more", layout.more, *map(id, layout.also)),
                    lambda: self._partial(
                        "partials/more.mjml.j2", also=layout.also, more=layout.more
                    ),
                )
            )
        return _fill(self.mjml_skeleton, {"toc": toc_part, "body": "".join(body)})

    def text(self, toc: Toc, layout: Layout) -> str:
        """The segment's plain-text part at one collapse level, links numbered."""
        parts = [self._text_part(("toc", toc), "toc", toc)]
        parts += [self._text_part(self._key(s), "section", s) for s in layout.sections]
        if layout.also or layout.more:
            key = ("more", layout.more, *map(id, layout.also))
            parts.append(self._text_part(key, "more", layout.also, layout.more))
        links: dict[str, int] = {}
        texts = []
        for part in parts:
            pieces = [
                f"[{links.setdefault(piece, len(links) + 1)}]" if i % 2 else piece
                for i, piece in enumerate(part)
            ]
            texts.append("".join(pieces))
        lines = [f"[{n}] {url}" for url, n in links.items()]
        links_text = self._macro("links", lines).strip("\n") if lines else ""
        body = "\n\n\n".join(texts[1:])
        text = _fill(self.text_skeleton, {"toc": texts[0], "body": body, "links": links_text})
        return text.strip() + "\n"

    def segment(self, audience: Audience) -> SegmentEmail:
        """The email of one segment, collapsed as far as the size limit needs."""
        segment = view(self.digest, audience)
        toc = self.toc(segment)
        layout, mjml, html = fit(segment, lambda lay: self.mjml(toc, lay), compile_mjml)
        email = RenderedEmail(
            subject=self.base["subject"],
            preheader=self.base["preheader"],
            html=html,
            text=self.text(toc, layout),
            mjml=mjml,
        )
        return SegmentEmail(
            key=audience.key,
            areas=audience.areas,
            email=email,
            subscribers=audience.subscribers,
            posts=toc.posts,
            also=toc.also,
            lines=layout.lines,
            linked=layout.more,
        )
