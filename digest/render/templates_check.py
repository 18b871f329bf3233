"""``digest templates check``: validate the templates' MJML, since mjml-python does not.

Two passes. The static pass reads every ``*.mjml.j2`` with its Jinja blanked out and checks each
MJML tag and attribute it writes, with exact lines. The rendered pass renders the sample issue
(every segment kind, collapsed and not, with and without a logo), checks the whole MJML tree
(where each tag sits, values that came from variables) and the compiled HTML (``lang``,
``color-scheme``, image alt text, font sizes); its problems are traced back to a template line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path

from ..config import Settings
from ..errors import TemplateError
from ..models import ALL, Audience
from . import mjml_spec as spec
from .overflow import Collapser
from .renderer import Renderer
from .sample import sample_digest
from .segments import view
from .templates import EMAIL_TEMPLATE, compile_mjml
from .theme import contrast_problems

DYNAMIC = "\x03"
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_FONT_SIZE = re.compile(r"font-size:\s*([\d.]+)px")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a template, at a line."""

    template: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.template}:{self.line}: {self.message}"


@dataclass
class CheckReport:
    """What ``check`` looked at and found."""

    templates: list[str] = field(default_factory=list)
    renderings: int = 0
    problems: list[Problem] = field(default_factory=list)


def blank_jinja(source: str) -> str:
    """``source`` with expressions replaced by a marker and statements by their newlines."""
    return _JINJA.sub(
        lambda m: DYNAMIC if m.group(0).startswith("{{") else "\n" * m.group(0).count("\n"),
        source,
    )


Found = tuple[int, str, str, str | None]
"""(line, message, tag, attribute) found in one MJML document."""


class _MjmlTree(HTMLParser):
    """Checks one MJML document or fragment against the MJML 4 table in ``mjml_spec``."""

    def __init__(self, fragment: bool):
        super().__init__(convert_charrefs=True)
        self.fragment = fragment
        self.stack: list[str] = []
        self.raw: str | None = None
        self.found: list[Found] = []

    def _say(self, message: str, tag: str, attr: str | None = None) -> None:
        self.found.append((self.getpos()[0], message, tag, attr))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._element(tag, attrs)
        if self.raw is None and (tag in spec.ENDING_TAGS or not tag.startswith("mj")):
            self.raw = tag if tag.startswith("mj") else None
        if tag.startswith("mj") and tag not in spec.ENDING_TAGS:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._element(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if self.raw is not None:
            if tag == self.raw:
                self.raw = None
            return
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def _element(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.raw is not None or not tag.startswith("mj"):
            return
        parent = self.stack[-1] if self.stack else None
        defaults = parent == "mj-attributes"
        if tag not in spec.ATTRIBUTES and not (defaults and tag in ("mj-all", "mj-class")):
            self._say(f"<{tag}> is not an MJML 4 tag digest supports", tag)
            return
        if defaults or tag in ("mj-all", "mj-class"):
            pass
        elif parent is None:
            if not self.fragment and tag != "mjml":
                self._say(f"<{tag}> must be inside <mjml>", tag)
        elif tag in spec.PARENTS and parent not in spec.PARENTS[tag]:
            allowed = ", ".join(f"<{p}>" for p in sorted(spec.PARENTS[tag]))
            self._say(f"<{tag}> cannot be inside <{parent}> (only {allowed})", tag)
        allowed_attrs = spec.ATTRIBUTES.get(tag, frozenset())
        for name, value in attrs:
            open_ = tag in ("mj-all", "mj-class") or tag == "mj-class"
            if not open_ and name not in allowed_attrs and name not in spec.GLOBAL_ATTRIBUTES:
                self._say(f"<{tag}> has no attribute {name!r} in MJML 4", tag, name)
            self._value(tag, name, value or "")
        if tag == "mj-style" and any(n == "inline" for n, _ in attrs):
            self._say("<mj-style inline> is not inlined by mjml-python; use inline styles", tag)
        if tag == "mj-image" and not (dict(attrs).get("alt") or "").strip():
            self._say("<mj-image> needs alt text", tag, "alt")
        if tag == "mjml" and not (dict(attrs).get("lang") or "").strip():
            self._say("<mjml> needs a lang attribute (it becomes <html lang>)", tag, "lang")

    def _value(self, tag: str, name: str, value: str) -> None:
        if DYNAMIC in value:
            return
        if name in spec.LENGTH_ATTRIBUTES and "0" in value.split():
            self._say(f"{name}={value!r}: write 0px, not 0 (Outlook sizes tables wrong)", tag, name)
        if name == "font-size":
            size = re.fullmatch(r"([\d.]+)px", value.strip())
            if size and float(size.group(1)) < spec.MIN_FONT_PX:
                self._say(f"font-size {value} is below {spec.MIN_FONT_PX}px", tag, name)


def check_mjml(text: str, fragment: bool = False) -> list[Found]:
    """Problems in one MJML document (or a partial's fragment)."""
    tree = _MjmlTree(fragment)
    tree.feed(text)
    tree.close()
    return tree.found


class _HtmlAudit(HTMLParser):
    """Accessibility checks on compiled HTML: lang, color-scheme, alt text, visible text size."""

    VOID = frozenset({"br", "img", "meta", "link", "hr", "input", "col", "area", "base", "wbr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str]] = []
        self.color_scheme = False
        self.stack: list[tuple[str, float | None, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "html" and not a.get("lang", "").strip():
            self.found.append(("<html> has no lang", "<mjml"))
        if tag == "meta" and a.get("name") == "color-scheme":
            self.color_scheme = True
        if tag == "img" and not a.get("alt", "").strip():
            self.found.append((f"<img src={a.get('src', '')!r}> has no alt text", "<mj-image"))
        if tag in self.VOID:
            return
        style = a.get("style", "")
        sizes = _FONT_SIZE.findall(style)
        hidden = "display:none" in style.replace(" ", "") or (
            bool(self.stack) and self.stack[-1][2]
        )
        self.stack.append((tag, float(sizes[-1]) if sizes else None, hidden))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID and self.stack and self.stack[-1][0] == tag:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        if not data.strip() or not data.replace("\xa0", "").strip() or not self.stack:
            return
        if self.stack[-1][2] or self.stack[-1][0] in ("style", "title", "script"):
            return
        size = next((s for _, s, _ in reversed(self.stack) if s), None)
        if size is not None and size < spec.MIN_FONT_PX:
            text = " ".join(data.split())[:40]
            self.found.append((f"text at font-size {size:g}px: {text!r}", f"{size:g}px"))


def audit_html(html: str) -> list[tuple[str, str]]:
    """(message, text to look for in the templates) per accessibility problem in ``html``."""
    audit = _HtmlAudit()
    audit.feed(html)
    audit.close()
    if not audit.color_scheme:
        audit.found.append(("no <meta name=color-scheme>", "<mj-head"))
    return audit.found


class _Sources:
    """The templates' MJML sources, with Jinja blanked, for tracing problems to lines."""

    def __init__(self, root: Path):
        self.root = root
        self.files = sorted(root.rglob("*.mjml.j2"))
        self.blank = {p: blank_jinja(p.read_text(encoding="utf-8")) for p in self.files}

    def name(self, path: Path) -> str:
        return str(path.relative_to(self.root))

    def locate(self, *needles: str) -> tuple[str, int] | None:
        for path in self.files:
            for number, line in enumerate(self.blank[path].splitlines(), start=1):
                if all(n in line for n in needles):
                    return self.name(path), number
        return None


def check(settings: Settings) -> CheckReport:
    """Check every template of ``settings`` statically and by rendering the sample issue."""
    sources = _Sources(Path(settings.templates.path))
    report = CheckReport(templates=[sources.name(p) for p in sources.files])
    for path in sources.files:
        fragment = path.name != EMAIL_TEMPLATE
        for line, message, _, _ in check_mjml(sources.blank[path], fragment):
            report.problems.append(Problem(sources.name(path), line, message))
    for message in contrast_problems(settings.theme):
        report.problems.append(Problem(f"{settings.path} [theme]", 0, message))
    seen = {(p.template, p.line, p.message) for p in report.problems}
    static = {p.message for p in report.problems}

    def add(message: str, where: tuple[str, int] | None, fallback: int) -> None:
        template, line = where or (f"{EMAIL_TEMPLATE} (rendered)", fallback)
        if (template, line, message) not in seen:
            seen.add((template, line, message))
            report.problems.append(Problem(template, line, message))

    try:
        for mjml in _renderings(settings):
            report.renderings += 1
            for line, message, tag, attr in check_mjml(mjml):
                if message in static:
                    continue
                at_attr = (
                    sources.locate(f"<{tag}", f'{attr}="{DYNAMIC}')
                    or sources.locate(f"<{tag}", f"{attr}=")
                    if attr
                    else None
                )
                add(message, at_attr or sources.locate(f"<{tag}"), line)
            for message, needle in audit_html(compile_mjml(mjml)):
                add(message, sources.locate(needle), 0)
    except TemplateError as exc:
        name, _, at = (exc.subject or EMAIL_TEMPLATE).rpartition(":")
        if not at.isdigit():
            name, at = exc.subject or EMAIL_TEMPLATE, "0"
        report.problems.append(Problem(name, int(at), exc.message))
    return report


def _renderings(settings: Settings) -> list[str]:
    """The MJML of the sample issue in every shape: segments, collapsed, with a logo."""
    logo = replace(settings.theme, logo_url="https://digest.example.org/logo.png")
    out: list[str] = []
    digest = sample_digest()
    for theme in (settings.theme, logo):
        renderer = Renderer(replace(settings, theme=theme))
        issue = renderer.issue(digest)
        first = digest.sections[0].area
        for audience in (Audience(ALL, ()), Audience("one", (first,))):
            out.append(issue.segment(audience).email.mjml)
            segment = view(digest, audience)
            collapser = Collapser(segment)
            for level in (len(collapser.ranked) // 2, len(collapser.ranked) + 2):
                out.append(issue.mjml(issue.toc(segment), collapser.layout(level)))
        renderer.web_page(digest)
        renderer.archive_index(digest.list_name, [])
    return out
