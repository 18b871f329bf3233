"""Assemble one issue's segment emails from partial renders cached across segments.

The layouts (``digest.mjml.j2``, ``digest.txt.j2``) are rendered once per issue with slots.
Their partials (table of contents, section, "also"/"more" block, post, title) are rendered once
per distinct input, in batches (one Jinja render for many inputs), and joined into each
segment's MJML and text, so a segment costs little more than its MJML compile.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from markupsafe import Markup, escape

from .models import Digest, DigestPost, RenderedEmail, Section
from .overflow import Collapser, Layout, SectionLayout, fit
from .placeholders import Placeholders
from .reflinks import Linked, number, ref, tidy
from .render import EMAIL_TEMPLATE, TEXT_TEMPLATE, compile_mjml, template_errors
from .segments import Audience, SegmentEmail, SegmentView, view

if TYPE_CHECKING:
    from .render import Renderer

T = TypeVar("T")

_SLOT = "\x01"
TOC, SECTION, MORE, POST, TITLE, LEAD = (
    f"partials/{name}.mjml.j2" for name in ("toc", "section", "more", "post", "title", "lead")
)
TEXT_TOC, TEXT_SECTION, TEXT_MORE, TEXT_POST, TEXT_TITLE, TEXT_LINKS, TEXT_LEAD = (
    f"partials/{name}.txt.j2"
    for name in ("toc", "section", "more", "post", "title", "links", "lead")
)


class TocEntry(NamedTuple):
    """A section in the table of contents."""

    area: str
    total: int


class Toc(NamedTuple):
    """The table of contents of one segment (a named tuple: it keys the partials' cache)."""

    areas: tuple[str, ...]
    sections: tuple[TocEntry, ...]
    posts: int
    also: int


def _slot(name: str) -> Markup:
    return Markup(f"{_SLOT}{name}{_SLOT}")


_ALSO = _slot("also")
_REFS = f"{_SLOT}refs{_SLOT}"
"""The links slot of the text part: a plain str, since `str + Markup` would escape the str."""


def _skeleton(rendered: str) -> list[str]:
    """Split a layout rendered with slots into literal text (even) and slot names (odd)."""
    return str(rendered).split(_SLOT)


def _fill(skeleton: list[str], parts: dict[str, str]) -> str:
    return "".join([parts[p] if i % 2 else p for i, p in enumerate(skeleton)])


def _section_key(section: SectionLayout) -> tuple[Any, ...]:
    return (
        section.area,
        section.total,
        id(section.lead),
        *map(id, section.posts),
        0,
        *map(id, section.lines),
    )


def _more_key(layout: Layout) -> tuple[int, int]:
    return len(layout.also), layout.more


class IssueRender:
    """Renders the segments of one issue; every partial is rendered once per distinct input."""

    def __init__(self, renderer: Renderer, digest: Digest):
        self.renderer = renderer
        self.digest = digest
        self.placeholders = Placeholders.fresh(repr(digest))
        """Tokens for this issue's renderings; their key appears nowhere in its content."""
        ctx = renderer.context(digest, self.placeholders)
        self._ctx = ctx
        self._heads: dict[int, tuple[str, str]] = {}
        ctx["subject"], ctx["preheader"] = self.head(ctx["lead"])
        self.base = {
            **ctx,
            "titles": self._titles,
            "in_full": self._in_full,
            "lead_story": self._lead_story,
        }
        self.text_base = {
            **ctx,
            "ref": ref,
            "titles": self._title_lines,
            "in_full": self._texts,
            "lead_story": self._lead_text,
        }
        self._parts: dict[str, dict[Hashable, Any]] = {}
        self.rendered = 0
        """How many partial outputs have been rendered (each is rendered once)."""
        with template_errors(EMAIL_TEMPLATE):
            layout = renderer.template(EMAIL_TEMPLATE).render(ctx, slot=_slot)
        self.mjml_skeleton = _skeleton(layout)
        with template_errors(TEXT_TEMPLATE):
            layout = renderer.template(TEXT_TEMPLATE).render(ctx, slot=_slot)
        self.text_skeleton = _skeleton(tidy(layout))

    def head(self, lead: DigestPost | None) -> tuple[str, str]:
        """The subject and preheader of an email led by ``lead`` (``[newsletter]`` strings)."""
        key = id(lead)
        out = self._heads.get(key)
        if out is None:
            nl, ctx = self.renderer.settings.newsletter, {**self._ctx, "lead": lead}
            out = (
                self.renderer.string("subject", nl.subject, ctx),
                self.renderer.string("preheader", nl.preheader, ctx),
            )
            self._heads[key] = out
        return out

    def segment_lead(self, segment: SegmentView) -> DigestPost | None:
        """The post a segment's subject names: its own lead, else the issue's."""
        lead: DigestPost | None = segment.lead or self._ctx["lead"]
        return lead

    def _rendered(
        self, name: str, var: str, items: Iterable[tuple[Hashable, Any]], **ctx: Any
    ) -> dict[Hashable, Any]:
        """Partial ``name`` for each (key, value) of ``items``, with ``var`` set to the value.

        Outputs are cached by key; the missing ones render in one batch. Text partials come back
        trimmed of trailing spaces, and of blank lines at both ends as ``Linked`` text, except
        the per-post ones (kept as strings, to be joined).
        """
        done = self._parts.setdefault(name, {})
        missing = {key: value for key, value in items if key not in done}
        if missing:
            is_text = name.endswith(".txt.j2")
            base = self.text_base if is_text else self.base
            out = self.renderer.batch(name, var, list(missing.values()), {**base, **ctx})
            if is_text and name in (TEXT_POST, TEXT_TITLE, TEXT_LEAD):
                out = [tidy(text) for text in out]
            elif is_text:
                out = [Linked.parse(tidy(text).strip("\n")) for text in out]  # type: ignore[misc]
            done.update(zip(missing, out, strict=True))
            self.rendered += len(missing)
        return done

    def _each(self, name: str, posts: Sequence[DigestPost]) -> list[str]:
        """Partial ``name`` of each of ``posts``; all the issue's posts render on first use."""
        done = self._parts.get(name)
        if done is None:
            done = self._rendered(name, "post", ((id(p), p) for p in self.digest.posts))
        try:
            return [done[id(p)] for p in posts]
        except KeyError:  # not all of them are the issue's own posts
            done = self._rendered(name, "post", ((id(p), p) for p in posts))
            return [done[id(p)] for p in posts]

    def _titles(self, posts: Sequence[DigestPost]) -> Markup:
        """Each post's ``partials/title.mjml.j2``, joined (for ``titles(posts)``)."""
        return Markup("".join(self._each(TITLE, posts)))

    def _in_full(self, posts: Sequence[DigestPost]) -> Markup:
        """Each post's ``partials/post.mjml.j2``, joined (for ``in_full(posts)``)."""
        return Markup("".join(self._each(POST, posts)))

    def _lead_story(self, post: DigestPost) -> Markup:
        """``partials/lead.mjml.j2`` of ``post`` (for ``lead_story(post)``)."""
        return Markup(self._rendered(LEAD, "post", [(id(post), post)])[id(post)])

    def _lead_text(self, post: DigestPost) -> str:
        """``partials/lead.txt.j2`` of ``post`` (for ``lead_story(post)``)."""
        text: str = self._rendered(TEXT_LEAD, "post", [(id(post), post)])[id(post)]
        return text

    def _title_lines(self, posts: Sequence[DigestPost]) -> str:
        """Each post's ``partials/title.txt.j2``, one per line (for ``titles(posts)``)."""
        return "\n".join([line.strip("\n") for line in self._each(TEXT_TITLE, posts)])

    def _texts(self, posts: Sequence[DigestPost]) -> str:
        """Each post's ``partials/post.txt.j2``, joined (for ``in_full(posts)``)."""
        return "".join(self._each(TEXT_POST, posts))

    def _per_group(self, kind: str, posts: Sequence[DigestPost], make: Callable[[], T]) -> T:
        """``make()`` for this group of posts, cached while the group (a section's) lives."""
        key = (kind, id(posts))
        cache = self._parts.setdefault("groups", {})
        out = cache.get(key)
        if out is None or out[0] is not posts:
            out = cache[key] = (posts, make())
        return out[1]

    def _group(self, name: str, posts: Sequence[DigestPost]) -> str:
        """Partial ``name`` of each of ``posts``, joined; cached for the posts of a section."""
        return self._per_group(name, posts, lambda: "".join(self._each(name, posts)))

    def _title_block(self, posts: Sequence[DigestPost]) -> Linked:
        """The text titles of ``posts``, one per line, references unnumbered."""
        return self._per_group("text", posts, lambda: Linked.parse(self._title_lines(posts)))

    @staticmethod
    def toc(segment: SegmentView) -> Toc:
        entries = tuple(TocEntry(s.area, len(s.posts)) for s in segment.sections)
        posts = sum(e.total for e in entries)
        return Toc(segment.areas, entries, posts, len(segment.also))

    def prepare(self, plans: Sequence[tuple[Toc, Layout]]) -> None:
        """Render, in one batch per partial, what these segments' emails need."""
        tocs = [(toc, toc) for toc, _ in plans]
        sections = [(_section_key(s), s) for _, layout in plans for s in layout.sections]
        mores = [(_more_key(lay), _more_key(lay)) for _, lay in plans if lay.also or lay.more]
        leads = {id(s.lead): s.lead for _, lay in plans for s in lay.sections if s.lead is not None}
        for name in (TOC, TEXT_TOC):
            self._rendered(name, "toc", tocs)
        for name in (LEAD, TEXT_LEAD):  # in one batch, before the sections that show them
            self._rendered(name, "post", leads.items())
        for name in (SECTION, TEXT_SECTION):
            self._rendered(name, "section", sections)
        for name in (MORE, TEXT_MORE):
            self._rendered(name, "also, more", mores, also_titles=_ALSO)

    def _also_groups(self, layout: Layout, others: Sequence[Section]) -> list[Sequence[DigestPost]]:
        """``layout.also`` as whole sections where it is all of ``others``' posts, else posts."""
        if others and len(layout.also) == sum(len(s.posts) for s in others):
            return [s.posts for s in others]
        return [layout.also]

    def mjml(
        self,
        toc: Toc,
        layout: Layout,
        others: Sequence[Section] = (),
        lead: DigestPost | None = None,
    ) -> str:
        """The segment's MJML at one collapse level (``others``: the sections "also" lists;
        ``lead``: the post its subject and preheader name)."""
        try:
            sections = self._parts[SECTION]
            body = [sections[_section_key(s)] for s in layout.sections]
            more = self._parts[MORE][_more_key(layout)] if layout.also or layout.more else None
            toc_part = self._parts[TOC][toc]
        except KeyError:
            self.prepare([(toc, layout)])
            return self.mjml(toc, layout, others, lead)
        if more is not None:
            groups = self._also_groups(layout, others)
            titles = "".join([self._group(TITLE, posts) for posts in groups])
            body.append(more.replace(_ALSO, titles))
        subject, preheader = self.head(lead if lead is not None else self._ctx["lead"])
        parts = {
            "toc": toc_part,
            "body": "".join(body),
            "subject": escape(subject),
            "preheader": escape(preheader),
        }
        return _fill(self.mjml_skeleton, parts)

    def text(self, toc: Toc, layout: Layout, others: Sequence[Section] = ()) -> str:
        """The segment's plain-text part at one collapse level, links numbered."""
        try:
            sections = self._parts[TEXT_SECTION]
            parts: list[Linked] = [self._parts[TEXT_TOC][toc]]
            parts += [sections[_section_key(s)] for s in layout.sections]
            if layout.also or layout.more:
                more: Linked = self._parts[TEXT_MORE][_more_key(layout)]
                groups = self._also_groups(layout, others)
                parts.append(more.fill(_ALSO, [self._title_block(posts) for posts in groups]))
        except KeyError:
            self.prepare([(toc, layout)])
            return self.text(toc, layout, others)
        texts, refs = number(parts)
        links_text = self._links_shell().replace(_REFS, refs) if refs else ""
        body = "\n\n\n".join(texts[1:])
        text = _fill(self.text_skeleton, {"toc": texts[0], "body": body, "links": links_text})
        if text[:1].isspace() or text[-2:-1].isspace() or text[-1:] != "\n":
            text = text.strip() + "\n"
        return text

    def _links_shell(self) -> str:
        """``partials/links.txt.j2`` with a slot for the numbered links."""
        shell: Linked = self._rendered(TEXT_LINKS, "refs", [(_REFS, _REFS)])[_REFS]
        return "".join(shell.pieces)

    def segment(self, audience: Audience) -> SegmentEmail:
        """The email of one segment, collapsed as far as the size limit needs."""
        return self.segments([audience])[0]

    def segments(self, audiences: Iterable[Audience]) -> list[SegmentEmail]:
        """The email of each segment, collapsed as far as the size limit needs.

        Work goes in phases over all the segments (partials in batches, then MJML, then the
        compiles, then text) rather than segment by segment: a third faster, as Jinja and the
        MJML compiler stop evicting each other from the CPU caches.
        """
        audiences = list(audiences)
        views = [view(self.digest, audience) for audience in audiences]
        tocs = [self.toc(v) for v in views]
        plans = [(toc, Collapser(v).layout(0)) for toc, v in zip(tocs, views, strict=True)]
        self.prepare(plans)
        leads = [self.segment_lead(v) for v in views]
        mjmls = [
            self.mjml(toc, layout, v.others, lead)
            for (toc, layout), v, lead in zip(plans, views, leads, strict=True)
        ]
        htmls = [compile_mjml(mjml) for mjml in mjmls]
        fitted = [
            fit(
                v,
                partial(self.mjml, toc, others=v.others, lead=lead),
                compile_mjml,
                first=(lay, m, h),
            )
            for v, (toc, lay), m, h, lead in zip(views, plans, mjmls, htmls, leads, strict=True)
        ]
        return [
            self._email(audience, toc, v.others, lead, *fit_)
            for audience, v, toc, lead, fit_ in zip(
                audiences, views, tocs, leads, fitted, strict=True
            )
        ]

    def _email(
        self,
        audience: Audience,
        toc: Toc,
        others: Sequence[Section],
        lead: DigestPost | None,
        layout: Layout,
        mjml: str,
        html: str,
    ) -> SegmentEmail:
        subject, preheader = self.head(lead)
        email = RenderedEmail(
            subject=subject,
            preheader=preheader,
            html=html,
            text=self.text(toc, layout, others),
            mjml=mjml,
            placeholders=self.placeholders,
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
