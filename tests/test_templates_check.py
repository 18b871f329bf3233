"""``digest templates check``: MJML 4 validation and the pitfalls mjml-python lets through."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.config import load_settings
from digest.templates_check import blank_jinja, check, check_mjml

from .cli_helpers import run_digest

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_templates_pass(project: Path) -> None:
    report = check(load_settings(project / "config.toml"))
    assert report.problems == []
    assert "digest.mjml.j2" in report.templates
    assert {"partials/header.mjml.j2", "partials/post.mjml.j2"} <= set(report.templates)
    assert report.renderings >= 8


def test_repository_templates_pass() -> None:
    assert check(load_settings(ROOT / "config.toml")).problems == []


def edit(project: Path, partial: str, old: str, new: str) -> None:
    path = project / "templates" / partial
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {partial}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(project: Path, partial: str, needle: str) -> int:
    lines = (project / "templates" / partial).read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, start=1) if needle in line)


@pytest.mark.parametrize(
    ("partial", "old", "new", "message"),
    [
        ("partials/section.mjml.j2", 'padding="0px 0px 0px 0px"', 'padding="0 0px 0px 0px"',
         "write 0px, not 0"),
        ("partials/section.mjml.j2", "<mj-divider border-width", "<mj-divider border-wdth",
         "<mj-divider> has no attribute 'border-wdth'"),
        ("digest.mjml.j2", "<mj-style>", '<mj-style inline="inline">', "mj-style inline"),
        ("partials/toc.mjml.j2", '<mj-text font-size="15px"', '<mj-txt font-size="15px"',
         "<mj-txt> is not an MJML 4 tag"),
        ("partials/toc.mjml.j2", '<mj-text font-size="15px"', '<mj-text font-size="12px"',
         "font-size 12px is below 14px"),
        ("partials/header.mjml.j2", 'alt="{{ newsletter.name }}" ', "", "needs alt text"),
        ("partials/footer.mjml.j2", "<mj-divider ", "<mj-image ", "<mj-image> needs alt text"),
    ],
)  # fmt: skip
def test_problem_is_reported_with_template_and_line(
    project: Path, partial: str, old: str, new: str, message: str
) -> None:
    edit(project, partial, old, new)
    problems = check(load_settings(project / "config.toml")).problems
    hits = [p for p in problems if message in p.message]
    assert hits, problems
    assert hits[0].template == partial
    assert hits[0].line == line_of(project, partial, new or "mj-image")


def test_dynamic_value_is_traced_to_its_template_line(project: Path) -> None:
    edit(project, "partials/section.mjml.j2", 'padding="16px 24px 8px 24px"', 'padding="{{ z }}"')
    path = project / "templates" / "partials" / "section.mjml.j2"
    path.write_text("{% set z = '0' %}" + path.read_text(encoding="utf-8"), encoding="utf-8")
    problems = check(load_settings(project / "config.toml")).problems
    (hit,) = [p for p in problems if "write 0px" in p.message]
    line = line_of(project, "partials/section.mjml.j2", 'padding="{{ z }}"')
    assert (hit.template, hit.line) == ("partials/section.mjml.j2", line)


def test_misplaced_tag_is_reported() -> None:
    found = check_mjml('<mjml lang="en"><mj-body><mj-text>x</mj-text></mj-body></mjml>')
    assert any("<mj-text> cannot be inside <mj-body>" in f[1] for f in found)
    assert check_mjml("<mjml><mj-body></mj-body></mjml>")[0][1].startswith("<mjml> needs a lang")


def test_blank_jinja_keeps_lines() -> None:
    source = '{# a\ncomment #}\n<mj-text padding="{{ x }}">{% if y %}\n{% endif %}'
    assert blank_jinja(source).count("\n") == source.count("\n")
    assert check_mjml(blank_jinja(source), fragment=True) == []


def test_cli(project: Path) -> None:
    ok = run_digest(project, "templates", "check")
    assert ok.returncode == 0, ok.stderr
    assert "templates OK" in ok.stdout
    edit(project, "partials/section.mjml.j2", 'padding="0px 0px 0px 0px"', 'padding="0"')
    bad = run_digest(project, "templates", "check")
    assert bad.returncode == 1
    line = line_of(project, "partials/section.mjml.j2", 'padding="0"')
    assert f"partials/section.mjml.j2:{line}: padding='0': write 0px" in bad.stderr
