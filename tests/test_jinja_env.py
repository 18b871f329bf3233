from __future__ import annotations

import inspect
import tomllib
from importlib.metadata import version
from pathlib import Path

import jinja2
import markupsafe
import pytest
from markupsafe import Markup, escape

from digest.config.load import load_settings
from digest.errors import TemplateError
from digest.render import jinja_env
from digest.render.jinja_env import OutputTemplate, RenderEnvironment, escape_output
from digest.render.renderer import Renderer

HOSTILE = [
    '"><img src=x onerror=alert(1)>',
    "<script>alert('x')</script>",
    'Tom & Jerry\'s "cafe"',
    "plain text",
    "",
    "é ü → \u2028",
]


class Html:
    def __html__(self) -> str:
        return "<b>safe</b>"


@pytest.mark.parametrize("value", [*HOSTILE, 0, 12.5, None, Markup("<i>kept</i>"), Html()])
def test_escape_output_escapes_as_markupsafe_does(value: object) -> None:
    out = escape_output(value)
    assert out == str(escape(value))


def env() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.DictLoader(
            {
                "page.html": (
                    "<a title='{{ title }}'>{{ body }}</a>{{ safe }}{{ n }}"
                    "{% set block %}<p>{{ title }}</p>{% endset %}{{ block }}"
                    "{% macro m(x) %}<q>{{ x }}</q>{% endmacro %}{{ m(title) }}"
                ),
                "page.txt": "{{ title }}",
            }
        ),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    return environment


@pytest.mark.parametrize("title", HOSTILE)
def test_templates_render_exactly_as_stock_jinja(title: str) -> None:
    stock, fast = env(), env()
    fast.template_class = OutputTemplate
    values = {"title": title, "body": title * 2, "safe": Markup("<br>"), "n": 3}
    for name in ("page.html", "page.txt"):
        expected = stock.get_template(name).render(values)
        assert fast.get_template(name).render(values) == expected
    assert "<img" not in fast.get_template("page.html").render(values).replace("&lt;img", "")


def test_undefined_values_still_fail_loudly() -> None:
    fast = env()
    fast.template_class = OutputTemplate
    with pytest.raises(jinja2.UndefinedError):
        fast.get_template("page.html").render(title="x", body="y", safe="")


def test_the_renderer_compiles_its_templates_with_escape_output(project: Path) -> None:
    renderer = Renderer(load_settings(project / "config.toml"))
    template = renderer.template("partials/post.mjml.j2")
    assert isinstance(template, OutputTemplate)
    assert template.root_render_func.__globals__["escape"] is escape_output
    with pytest.raises(TemplateError):
        renderer.template("no/such.mjml.j2")


def test_render_environment_globals_are_per_template_and_never_leak() -> None:
    environment = RenderEnvironment(
        loader=jinja2.DictLoader(
            {
                "a.html": "{{ site }} {{ extra | default('-') }}",
                "b.html": "{{ extra | default('-') }}",
            }
        ),
        autoescape=True,
    )
    environment.globals["site"] = "<Digest>"
    a = environment.get_template("a.html", globals={"extra": "x"})
    assert a.render() == "&lt;Digest&gt; x"
    assert "extra" not in environment.globals
    assert environment.get_template("b.html").render() == "-"
    assert isinstance(a, OutputTemplate) and "range" in a.globals


def _pin(package: str) -> str:
    """The requirement pyproject.toml declares for ``package``."""
    data = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    (spec,) = [d for d in data["project"]["dependencies"] if d.lower().startswith(package)]
    return spec


@pytest.mark.parametrize("package", ["jinja2", "markupsafe"])
def test_the_private_apis_are_pinned_to_a_minor_version(package: str) -> None:
    spec = _pin(package)
    assert "<" in spec, f"{spec}: jinja_env.py uses private API; pin an upper bound"
    installed = tuple(int(x) for x in version(package).split(".")[:2])
    low = tuple(int(x) for x in spec.split(">=")[1].split(",")[0].split(".")[:2])
    high = tuple(int(x) for x in spec.split("<")[1].split(".")[:2])
    assert low <= installed < high, f"{package} {version(package)} is outside {spec}"


def test_markupsafe_private_escaper_is_the_one_used_and_escapes_as_escape() -> None:
    """Fails loudly on a markupsafe upgrade that renames or changes ``_escape_inner``."""
    inner = getattr(markupsafe, "_escape_inner", None)
    assert inner is not None, "markupsafe._escape_inner is gone: update jinja_env.py and the pin"
    assert jinja_env._escape is inner  # not the slow fallback
    for text in [*HOSTILE, "a" * 1000 + "<"]:
        out = inner(text)
        assert type(out) is str and out == str(escape(text))


def test_jinja_private_from_namespace_still_builds_output_templates() -> None:
    """Fails loudly on a Jinja2 upgrade that renames ``_from_namespace`` or stops compiled
    templates looking ``escape`` up in their module namespace."""
    params = list(inspect.signature(jinja2.Template._from_namespace).parameters)
    assert params == ["environment", "namespace", "globals"]
    environment = RenderEnvironment(
        loader=jinja2.DictLoader({"t.html": "{{ x }}"}), autoescape=True
    )
    template = environment.get_template("t.html")
    assert isinstance(template, OutputTemplate)
    assert template.root_render_func.__globals__["escape"] is escape_output
    assert template.render(x="<&>") == "&lt;&amp;&gt;"
