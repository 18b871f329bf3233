"""Render a digest: Jinja2 templates to MJML, compiled by mjml-python, plus a text part.

Per-recipient values are left as placeholders (``recipient.name`` ..., see placeholders.py) that
the delivery backend fills in, so one rendering serves every recipient of a segment.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..models import ALL, Audience, Digest, RenderedEmail, SegmentEmail
from ..placeholders import fill
from .issue import IssueRender
from .templates import NOBODY, WEB_TEMPLATE, Templates, template_errors


class Renderer(Templates):
    """Renders digests with one settings object's templates and theme; templates are cached."""

    _last: tuple[Digest, IssueRender] | None = None

    def issue(self, digest: Digest) -> IssueRender:
        """A renderer of ``digest``'s segments that caches the partials they share.

        The last one is kept: the web page and the archive's index entry of the issue the build
        phase just rendered come from that rendering, not a second one.
        """
        last = self._last
        if last is not None and last[0] is digest:
            return last[1]
        render = IssueRender(self, digest)
        self._last = (digest, render)
        return render

    def render(self, digest: Digest) -> RenderedEmail:
        """The email of the ``all`` segment: the whole issue."""
        return self.issue(digest).segment(Audience(ALL, ())).email

    def render_segments(
        self, digest: Digest, audiences: Iterable[Audience]
    ) -> tuple[SegmentEmail, ...]:
        """One email per segment, each rendered once and kept under the size limit."""
        return tuple(self.issue(digest).segments(audiences))

    def web_page(self, digest: Digest) -> str:
        """The issue as a standalone web page: every section, no per-recipient fields."""
        render = self.issue(digest)
        with template_errors(WEB_TEMPLATE):
            page = self.template(WEB_TEMPLATE).render(render.base)
        # Public: a recipient field that reached the page (say, in a subject) shows as nothing.
        return fill(page, render.placeholders, "html", NOBODY)
