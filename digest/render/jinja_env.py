"""Jinja2 as the render path uses it: the same output, less work per template call.

Autoescaped output without a ``Markup`` object per ``{{ ... }}``. Jinja2 escapes each output
of an autoescaped template with ``markupsafe.escape``, which wraps the escaped text in a new
``Markup`` (and copies a ``Markup`` it is given, such as a joined partial). The output is then
only joined into the page, so the wrapper is wasted: at about a thousand outputs per issue it
cost a sixth of rendering. ``escape_output`` escapes the same characters with markupsafe's own
C escaper and returns a plain string, six times faster. Jinja2 offers no setting for the escape
function; its compiled templates look ``escape`` up in their module namespace, and generated
code calls it only on output. ``Template.from_code`` is where that namespace is made, so
``OutputTemplate`` sets the name there.

Globals as a plain dict. Each render copies the template's globals into a new context; Jinja2
keeps them as a ``ChainMap`` over the environment's, which is slow to copy (4% of an issue's
render). Its documentation asks not to change globals once templates are loaded, and digest
does not, so ``RenderEnvironment`` gives each template a merged dict instead.

Two private names are used: ``markupsafe._escape_inner`` and ``jinja2.Template._from_namespace``.
No public API does the same at the same cost (``html.escape`` quotes differently; a Markup per
output is what this saves), so pyproject.toml pins the minor versions this was measured with
(Jinja2 3.1, MarkupSafe 3.0) and ``tests/test_jinja_env.py`` fails loudly when an upgrade
changes either name or what it does.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from types import CodeType
from typing import Any

import jinja2
import markupsafe


def _fallback(text: str) -> str:
    return str(markupsafe.escape(text))


# markupsafe's C escaper (returns a str); the public escape() wraps it in Markup.
_escape: Callable[[str], str] = getattr(markupsafe, "_escape_inner", _fallback)


def escape_output(value: Any) -> str:
    """``value`` escaped for HTML as ``markupsafe.escape`` would, as a plain string."""
    if type(value) is str:
        return _escape(value)
    html = getattr(value, "__html__", None)
    if html is not None:
        out: str = html()  # already safe: a Markup passes through uncopied
        return out
    return _escape(str(value))


class OutputTemplate(jinja2.Template):
    """A template whose autoescaped outputs go through ``escape_output``."""

    @classmethod
    def from_code(
        cls,
        environment: jinja2.Environment,
        code: CodeType,
        globals: MutableMapping[str, Any],
        uptodate: Callable[[], bool] | None = None,
    ) -> jinja2.Template:
        namespace: dict[str, Any] = {"environment": environment, "__file__": code.co_filename}
        exec(code, namespace)
        namespace["escape"] = escape_output
        template = cls._from_namespace(environment, namespace, globals)
        template._uptodate = uptodate
        return template


class RenderEnvironment(jinja2.Environment):
    """An environment whose templates use ``escape_output`` and plain-dict globals."""

    template_class = OutputTemplate

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        return {**self.globals, **(d or {})}
