"""Theme contrast and fonts, and the web version with its archive index."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from digest.archive import Archive
from digest.config.load import load_settings
from digest.errors import ConfigError
from digest.models import Digest, DigestPost, Section
from digest.render.sample import sample_digest
from digest.render.theme import contrast, contrast_problems, luminance

from .email_helpers import TOKEN


def test_wcag_contrast_matches_known_values() -> None:
    assert luminance("#ffffff") == pytest.approx(1.0) and luminance("#000000") == 0.0
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#ffffff", "#000000") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)


def test_default_theme_passes_aa_contrast(project: Path) -> None:
    theme = load_settings(project / "config.toml").theme
    assert contrast_problems(theme) == []
    assert contrast(theme.text_color, theme.surface_color) >= 4.5
    assert contrast(theme.header_text_color, theme.brand_color) >= 4.5


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ('brand_color = "#7fb3ff"', r"theme: brand_color #7fb3ff on surface_color .* contrast"),
        ('brand_color = "#1a4e8a"\ntext_color = "#aaaaaa"', r"text_color #aaaaaa .*4\.5:1"),
        ('brand_color = "#1a4e8a"\nfont_family = "Comic Neue"', r"generic family"),
        ('brand_color = "#1a4e8a"\nlogo_url = "http://x.org/l.png"', r"https://"),
    ],
)
def test_failing_theme_is_rejected_with_its_key(
    edit_config: Callable[[str, str], Path], setting: str, message: str
) -> None:
    path = edit_config(r'^brand_color = "#1a4e8a"$', setting)
    with pytest.raises(ConfigError, match=message) as exc:
        load_settings(path)
    assert exc.value.subject == str(path)


def test_archive_url_pattern_is_validated(edit_config: Callable[[str, str], Path]) -> None:
    path = edit_config(r"^\[theme\]", '[archive]\nurl = "https://x.org/{issue}.html"\n\n[theme]')
    with pytest.raises(ConfigError, match=r"archive: url: expected a pattern holding \{number\}"):
        load_settings(path)


def test_web_version_and_index(project: Path) -> None:
    settings = load_settings(project / "config.toml")
    archive = Archive(settings)
    page = archive.publish(sample_digest(number=12))
    assert page == project / "archive" / "weekly" / "12.html"
    html = page.read_text(encoding="utf-8")
    assert '<html lang="en">' in html and 'name="viewport"' in html
    assert 'name="color-scheme"' in html and "<h1>Policy Blogs Weekly</h1>" in html
    assert html.count("<article") == 9 and not TOKEN.search(html)
    assert "Central Asia&#39;s Newsrooms Are Running Out of Room" in html
    assert 'href="index.html"' in html
    archive.publish(sample_digest(number=13))
    archive.publish(sample_digest(number=12))  # rebuilt: replaced, not duplicated
    index = (project / "archive" / "weekly" / "index.html").read_text(encoding="utf-8")
    assert index.index('href="13.html"') < index.index('href="12.html"')
    assert index.count('href="12.html"') == 1
    entries = json.loads((project / "archive" / "weekly" / "issues.json").read_text())["issues"]
    assert [e["number"] for e in entries] == [13, 12]
    assert entries[0]["url"] == "https://digest.example.org/archive/weekly/13.html"
    assert archive.url("weekly", 12) in settings.newsletter.base_url + "/archive/weekly/12.html"


def test_email_links_to_the_web_version(project: Path) -> None:
    from digest.render.renderer import Renderer

    email = Renderer(load_settings(project / "config.toml")).render(sample_digest(number=12))
    url = "https://digest.example.org/archive/weekly/12.html"
    assert email.html.count(f'href="{url}"') == 2  # top "view in browser" and the footer's
    assert f"View in browser: {url}" in email.text


def test_hostile_content_is_inert_in_every_output(project: Path) -> None:
    from digest.models import Audience
    from digest.render.renderer import Renderer

    base = sample_digest()
    evil = DigestPost(
        id=666,
        title='"><img src=x onerror=alert(1)><script>alert(2)</script>',
        url="javascript:alert(3)",
        author='<a href="javascript:x()">me</a>',
        areas=("Security",),
        summary="<iframe src=//evil></iframe> & friends",
        published=base.window.end,
    )
    digest = Digest(
        base.list_name,
        base.number,
        base.window,
        (Section("Security", (evil,)), *base.sections),
        base.built_at,
    )
    renderer = Renderer(load_settings(project / "config.toml"))
    segments = renderer.render_segments(digest, [Audience("x", ("Human Rights",))])
    pages = [segments[0].email.html, renderer.web_page(digest), renderer.render(digest).html]
    for html in pages:
        assert "<script>alert(2)" not in html and "<img src=x" not in html
        assert "<iframe" not in html and 'href="javascript:' not in html
        assert "&lt;script&gt;" in html
    assert "Also this week" in pages[0]
