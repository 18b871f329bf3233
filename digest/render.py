"""Render a digest: Jinja2 templates to MJML, compiled by mjml-python, plus a text part.

Per-recipient values are left as placeholders (``-name-``, ``-unsubscribe_url-`` ...) that
the delivery backend fills in, so one rendering serves every recipient of a segment.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from mjml import mjml2html

from .config import Settings
from .errors import TemplateError
from .models import Digest, RenderedEmail
from .text import safe_url

EMAIL_TEMPLATE = "digest.mjml.j2"
TEXT_TEMPLATE = "digest.txt.j2"


@dataclass(frozen=True, slots=True)
class Placeholders:
    """The per-recipient tokens a rendering carries, by field."""

    email: str = "-email-"
    email_html: str = "-email_html-"
    name: str = "-name-"
    name_html: str = "-name_html-"
    unsubscribe_url: str = "-unsubscribe_url-"
    preferences_url: str = "-preferences_url-"


PLACEHOLDERS = Placeholders()


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


class Renderer:
    """Renders digests with one settings object's templates and theme."""

    def __init__(self, settings: Settings):
        self.settings = settings
        path = Path(settings.templates.path)
        loader = jinja2.FileSystemLoader(str(path))
        self.env = jinja2.Environment(
            loader=loader,
            autoescape=lambda name: name is None or not name.endswith(".txt.j2"),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["link"] = safe_url
        self.strings = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)

    def context(self, digest: Digest) -> dict[str, Any]:
        posts = digest.posts
        date = digest.window.end.strftime("%B %-d, %Y")
        return {
            "newsletter": self.settings.newsletter,
            "theme": self.settings.theme,
            "issue": {"number": digest.number, "date": date, "window": digest.window},
            "list": digest.list_name,
            "sections": digest.sections,
            "post_count": len(posts),
            "lead": posts[0] if posts else None,
            "recipient": PLACEHOLDERS,
        }

    def _string(self, key: str, source: str, ctx: dict[str, Any]) -> str:
        with template_errors(f"[newsletter] {key}"):
            try:
                return " ".join(self.strings.from_string(source).render(ctx).split())
            except jinja2.TemplateSyntaxError as exc:
                raise TemplateError(
                    f"syntax error: {exc.message}",
                    subject=f"{self.settings.path}: newsletter.{key}",
                ) from None
            except jinja2.UndefinedError as exc:
                raise TemplateError(
                    f"render failed: {exc}", subject=f"{self.settings.path}: newsletter.{key}"
                ) from None

    def render_mjml(self, ctx: dict[str, Any]) -> str:
        with template_errors(EMAIL_TEMPLATE):
            return self.env.get_template(EMAIL_TEMPLATE).render(ctx)

    def render_text(self, ctx: dict[str, Any]) -> str:
        links: list[str] = []

        def ref(url: str) -> int:
            if url not in links:
                links.append(url)
            return links.index(url) + 1

        with template_errors(TEXT_TEMPLATE):
            text = self.env.get_template(TEXT_TEMPLATE).render(ctx, ref=ref, links=links)
        return "\n".join(line.rstrip() for line in text.splitlines()).strip() + "\n"

    def render(self, digest: Digest) -> RenderedEmail:
        ctx = self.context(digest)
        subject = self._string("subject", self.settings.newsletter.subject, ctx)
        preheader = self._string("preheader", self.settings.newsletter.preheader, ctx)
        ctx.update(subject=subject, preheader=preheader)
        mjml = self.render_mjml(ctx)
        html = compile_mjml(mjml)
        return RenderedEmail(
            subject=subject, preheader=preheader, html=html, text=self.render_text(ctx), mjml=mjml
        )


def compile_mjml(mjml: str) -> str:
    """Compile MJML to HTML with the options digest always uses."""
    try:
        html: str = mjml2html(mjml, disable_comments=True, fonts={})
    except Exception as exc:  # mjml-python raises bare Exceptions on parse errors
        raise TemplateError(f"MJML did not compile: {exc}", subject=EMAIL_TEMPLATE) from None
    return html


def fill(template: str, values: dict[str, str]) -> str:
    """Replace each placeholder in ``template`` by its value."""
    for token, value in values.items():
        template = template.replace(token, value)
    return template
