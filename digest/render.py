"""Render a digest: Jinja2 templates to MJML, compiled by mjml-python, plus a text part.

Per-recipient values are left as placeholders (``recipient.name`` ..., see placeholders.py) that
the delivery backend fills in, so one rendering serves every recipient of a segment.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from mjml import mjml2html

from .config import Settings
from .errors import TemplateError
from .jinja_env import RenderEnvironment
from .models import Digest, DigestPost, Image, RenderedEmail
from .placeholders import Placeholders, fill
from .reflinks import ref
from .segments import ALL, Audience, SegmentEmail, lead_of
from .sources.images import display_size, safe_image_url
from .text import safe_url

if TYPE_CHECKING:
    from .layout import IssueRender

EMAIL_TEMPLATE = "digest.mjml.j2"
TEXT_TEMPLATE = "digest.txt.j2"
WEB_TEMPLATE = "archive.html.j2"
INDEX_TEMPLATE = "archive_index.html.j2"


def _template_location(exc: BaseException) -> str | None:
    """``template:line`` of the innermost template frame in ``exc``'s traceback."""
    where = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.endswith(".j2"):
            where = f"{frame.filename}:{frame.lineno}"
    return where


@contextmanager
def template_errors(default: str) -> Iterator[None]:
    """Turn Jinja2 errors into TemplateError naming the template and line."""
    try:
        yield
    except jinja2.TemplateSyntaxError as exc:
        where = f"{exc.filename or exc.name or default}:{exc.lineno}"
        raise TemplateError(f"syntax error: {exc.message}", subject=where) from None
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(
            f"template not found: {exc.name}", subject=default, hint="check [templates] path"
        ) from None
    except (jinja2.UndefinedError, TypeError, ValueError) as exc:
        where = _template_location(exc) or default
        raise TemplateError(f"render failed: {exc}", subject=where) from None


def _squashed(paragraph: str) -> str:
    """``paragraph`` with whitespace runs (and any whitespace but a space) as single spaces."""
    plain = paragraph.isprintable() and "  " not in paragraph  # other whitespace: unprintable
    if plain and paragraph[:1] != " " and paragraph[-1:] != " ":
        return paragraph  # already so: most titles and summaries
    return " ".join(paragraph.split())


def wordwrap(text: str, width: int = 72) -> str:
    """Greedy word wrap at ``width`` columns; words are never split unless longer than a line.

    Replaces Jinja's ``wordwrap`` (textwrap) in the templates: ten times faster, and it does
    not break hyphenated words across lines. Whitespace runs collapse to one space; line breaks
    in ``text`` are kept.
    """
    width = max(1, width)
    text = str(text)
    if len(text) <= width and "\n" not in text:  # one line that fits: most titles
        return _squashed(text)
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = _squashed(paragraph)
        start = len(lines)
        while len(line) > width:
            cut = line.rfind(" ", 0, width + 1)
            if cut < 0:  # a word longer than a line: a line-long slice of it
                lines.append(line[:width])
                line = line[width:]
            else:
                lines.append(line[:cut])
                line = line[cut + 1 :]
        if line or len(lines) == start:
            lines.append(line)
    return "\n".join(lines)


_NOT_SLUG = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=1024)
def slug(text: str) -> str:
    """An HTML id for a section title: lower-case letters and digits joined by hyphens."""
    return "s-" + _NOT_SLUG.sub("-", str(text).lower()).strip("-")


LEAD_COLUMN = 536
"""Pixels of column beside the lead's rule: 552 less the 4px rule and 12px gap."""


def lead_size(image: Image) -> tuple[int, int]:
    """(width, height) of a lead picture: never wider than its column."""
    return display_size(image, LEAD_COLUMN)


def web_url(settings: Settings, list_name: str, number: int) -> str:
    """The public URL of an issue's web version, from ``[archive] url``."""
    base = settings.newsletter.base_url.rstrip("/")
    return settings.archive.url.format(base_url=base, list=list_name, number=number)


NOBODY = {"email": "", "name": "", "unsubscribe_url": "", "preferences_url": ""}
"""Recipient values of the public web page: none."""

BATCH_SEPARATOR = "\x03"


BATCH_PREFIX = "@batch:"


def batch_name(template: str, var: str) -> str:
    """The name under which ``template`` renders once per item of ``items``, as ``var``."""
    return f"{BATCH_PREFIX}{var}:{template}"


class BatchLoader(jinja2.BaseLoader):
    """Loads templates, and each one's batch form: a loop rendering it once per item.

    ``@batch:post:partials/post.mjml.j2`` renders the partial for every item of ``items`` (bound
    to ``post``), each output followed by ``BATCH_SEPARATOR``. One render for all the posts of an
    issue costs a third of a render per post. The loop opens on the partial's first line, so
    errors still name the partial's file and line.
    """

    def __init__(self, inner: jinja2.BaseLoader):
        self.inner = inner

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        if not template.startswith(BATCH_PREFIX):
            return self.inner.get_source(environment, template)
        var, _, name = template.removeprefix(BATCH_PREFIX).partition(":")
        source, filename, uptodate = self.inner.get_source(environment, name)
        loop = f"{{% for {var} in items %}}{source}{BATCH_SEPARATOR}{{% endfor %}}"
        return loop, filename, uptodate

    def list_templates(self) -> list[str]:
        return self.inner.list_templates()


class Renderer:
    """Renders digests with one settings object's templates and theme; templates are cached."""

    def __init__(self, settings: Settings):
        self.settings = settings
        path = Path(settings.templates.path)
        self.env = RenderEnvironment(
            loader=BatchLoader(jinja2.FileSystemLoader(str(path))),
            autoescape=lambda name: name is None or not name.endswith(".txt.j2"),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
            cache_size=-1,
        )
        self.env.filters["link"] = safe_url
        self.env.filters["ref"] = ref
        self.env.filters["wordwrap"] = wordwrap
        self.env.filters["slug"] = slug
        self.env.filters["image_url"] = safe_image_url
        self.strings = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
        self._strings: dict[str, jinja2.Template] = {}
        self._days: dict[tuple[datetime, tzinfo], str] = {}
        """Publication days as shown, by time and zone (strftime is slow)."""

    def context(self, digest: Digest, placeholders: Placeholders) -> dict[str, Any]:
        """What every template of an issue sees (subject and preheader are added after)."""
        posts = digest.posts
        zone = self.zone(digest)
        days = self._days

        def day(post: DigestPost) -> str:
            """The day ``post`` was published, in the list's zone; "" when it carried no date."""
            if not post.dated:
                return ""
            key = (post.published, zone)
            shown = days.get(key)
            if shown is None:
                shown = days[key] = post.published.astimezone(zone).strftime("%B %-d")
            return shown

        return {
            "newsletter": self.settings.newsletter,
            "theme": self.settings.theme,
            "issue": {
                "number": digest.number,
                "date": self.issue_date(digest),
                "window": digest.window,
            },
            "list": digest.list_name,
            "sections": digest.sections,
            "post_count": len(posts),
            "lead": lead_of(digest.sections),
            "recipient": placeholders,
            "day": day,
            "size": lead_size,
            "web_url": web_url(self.settings, digest.list_name, digest.number),
        }

    def zone(self, digest: Digest) -> tzinfo:
        """The time zone of ``digest``'s list (the built time's own when the list is unknown)."""
        zones = {lst.name: lst.tz for lst in self.settings.lists}
        return zones.get(digest.list_name) or digest.built_at.tzinfo or UTC

    def issue_date(self, digest: Digest) -> str:
        """The day the issue was built to go out, in its list's zone (the period stays the key)."""
        return digest.built_at.astimezone(self.zone(digest)).strftime("%B %-d, %Y")

    def string(self, key: str, source: str, ctx: dict[str, Any]) -> str:
        """Render the ``[newsletter]`` template string ``key`` on one line."""
        where = f"{self.settings.path}: newsletter.{key}"
        try:
            template = self._strings.get(source) or self.strings.from_string(source)
            self._strings[source] = template
            return " ".join(template.render(ctx).split())
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"syntax error: {exc.message}", subject=where) from None
        except jinja2.UndefinedError as exc:
            raise TemplateError(f"render failed: {exc}", subject=where) from None

    def template(self, name: str) -> jinja2.Template:
        with template_errors(name):
            return self.env.get_template(name)

    def batch(self, name: str, var: str, items: Sequence[Any], ctx: dict[str, Any]) -> list[str]:
        """Template ``name`` rendered with ``var`` set to each of ``items`` in turn."""
        if not items:
            return []
        with template_errors(name):
            template = self.env.get_template(batch_name(name, var))
            out = template.render(ctx, items=items).split(BATCH_SEPARATOR)
            if len(out) != len(items) + 1:  # the separator turned up in an output: one by one
                out = [template.render(ctx, items=[item])[:-1] for item in items] + [""]
        return out[: len(items)]

    def issue(self, digest: Digest) -> IssueRender:
        """A renderer of ``digest``'s segments that caches the partials they share."""
        from .layout import IssueRender

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
        render = self.issue(digest)
        with template_errors(WEB_TEMPLATE):
            page = self.template(WEB_TEMPLATE).render(render.base)
        # Public: a recipient field that reached the page (say, in a subject) shows as nothing.
        return fill(page, render.placeholders, "html", NOBODY)

    def archive_index(self, list_name: str, issues: list[dict[str, Any]]) -> str:
        """The index page of a list's past issues, newest first."""
        ctx = {
            "newsletter": self.settings.newsletter,
            "theme": self.settings.theme,
            "list": list_name,
            "issues": issues,
        }
        with template_errors(INDEX_TEMPLATE):
            return self.template(INDEX_TEMPLATE).render(ctx)


def compile_mjml(mjml: str) -> str:
    """Compile MJML to HTML with the options digest always uses."""
    try:
        html: str = mjml2html(mjml, disable_comments=True, fonts={})
    except Exception as exc:  # mjml-python raises bare Exceptions on parse errors
        raise TemplateError(f"MJML did not compile: {exc}", subject=EMAIL_TEMPLATE) from None
    return html
