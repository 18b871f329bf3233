"""Render a digest: Jinja2 templates to MJML, compiled by mjml-python, plus a text part.

Per-recipient values are left as placeholders (``recipient.name`` ..., see placeholders.py) that
the delivery backend fills in, so one rendering serves every recipient of a segment.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..models import ALL, Audience, Digest, RenderedEmail, SegmentEmail
from .issue import IssueRender
from .templates import Templates


class Renderer(Templates):
    """Renders digests with one settings object's templates and theme; templates are cached."""

    def issue(self, digest: Digest) -> IssueRender:
        """A renderer of ``digest``'s segments that caches the partials they share."""
        return IssueRender(self, digest)

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
        return self.issue(digest).web_page()
