"""The email and the web version in headless Chromium at phone to desktop widths.

Uses the session-wide ``chromium`` fixture of ``tests/browser.py`` (skips without Chromium,
fails on CI).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from digest.config.load import load_settings
from digest.models import ALL, Audience
from digest.render.renderer import Renderer
from digest.render.sample import sample_digest

from .browser import new_context
from .email_helpers import big_week, filled

WIDTHS = (320, 375, 414, 600, 800)
STACK_BELOW = 480

COLUMNS_JS = """() => Array.from(document.querySelectorAll('[class*="mj-column-"]')).map(el => {
  const r = el.getBoundingClientRect(), p = el.parentElement, cs = getComputedStyle(p);
  const inner = p.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
  const siblings = p.querySelectorAll(':scope > [class*="mj-column-"]').length;
  return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width,
          inner, siblings};
})"""


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    """The sample issue's email (all and one segment), a collapsed big week, and the web page."""
    settings = load_settings(Path(__file__).resolve().parent.parent / "config.toml")
    renderer = Renderer(settings)
    digest = sample_digest()
    everything, segment = renderer.render_segments(
        digest, [Audience(ALL, ()), Audience("s", ("Security",))]
    )
    return {
        "email": filled(everything.email.html),
        "segment": filled(segment.email.html),
        "big-week": filled(renderer.render(big_week(200)).html),
        "web": renderer.web_page(digest),
    }


@pytest.fixture
def page_at(chromium: Any) -> Iterator[Any]:
    contexts: list[Any] = []

    def open_(html: str, width: int) -> Any:
        context = new_context(chromium, viewport={"width": width, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.route("**/*", lambda route: route.abort())  # no network: the page is self-contained
        page.set_content(html, wait_until="load")
        return page

    yield open_
    for context in contexts:
        context.close()


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["email", "segment", "big-week", "web"])
def test_no_horizontal_overflow(pages: dict[str, str], page_at: Any, name: str, width: int) -> None:
    page = page_at(pages[name], width)
    scroll, inner = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll == inner == width, f"{name} at {width}px scrolls to {scroll}px"


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
def test_columns_stack_into_one_under_480px(
    pages: dict[str, str], page_at: Any, width: int
) -> None:
    page = page_at(pages["email"], width)
    columns = page.evaluate(COLUMNS_JS)
    pairs = [c for c in columns if c["siblings"] == 2]
    assert len(pairs) >= 4  # the header's and the footer's two columns
    for column in columns:
        if width < STACK_BELOW:  # one column: each takes its section's full width
            assert column["width"] == pytest.approx(column["inner"], abs=1), column
    for first, second in zip(pairs[::2], pairs[1::2], strict=True):
        if width < STACK_BELOW:
            assert second["top"] >= first["bottom"] - 1  # below, not beside
        else:
            assert second["left"] >= first["right"] - 1  # beside, on the same row
            assert second["top"] < first["bottom"] and first["top"] < second["bottom"]
            assert first["width"] + second["width"] == pytest.approx(first["inner"], abs=2)
