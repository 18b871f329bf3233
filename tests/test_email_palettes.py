"""Both palettes of the email in headless Chromium: no overflow, and WCAG contrast in the page.

The dark palette applies through ``prefers-color-scheme`` (emulated on the context) and through
the ``data-ogsc``/``data-ogsb`` attributes Outlook.com sets; contrast is computed in the page
between each text's computed colour and the background it is painted on.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from digest.config import load_settings
from digest.render import Renderer
from digest.sample import sample_digest
from digest.segments import ALL, Audience

from .email_helpers import filled

WIDTHS = (320, 375, 600, 800)
SETTINGS = load_settings(Path(__file__).resolve().parent.parent / "config.toml")

CONTRAST_JS = """(canvas) => {
  const parse = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
    }
    let out = canvas;
    for (const c of layers.reverse()) {
      out = {r: c.r * c.a + out.r * (1 - c.a), g: c.g * c.a + out.g * (1 - c.a),
             b: c.b * c.a + out.b * (1 - c.a), a: 1};
    }
    return out;
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set(), out = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || !el || seen.has(el)) continue;
    seen.add(el);
    if (!el.checkVisibility({opacityProperty: true, visibilityProperty: true})) continue;
    const fg = parse(getComputedStyle(el).color), bg = background(el);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    out.push({text: n.textContent.trim().slice(0, 40), fg: getComputedStyle(el).color,
              bg: `rgb(${Math.round(bg.r)}, ${Math.round(bg.g)}, ${Math.round(bg.b)})`,
              ratio: (hi + 0.05) / (lo + 0.05)});
  }
  return out;
}"""
CANVAS = {"light": {"r": 255, "g": 255, "b": 255}, "dark": {"r": 18, "g": 18, "b": 18}}


def rgb(color: str) -> str:
    """``#rrggbb`` as Chromium reports a computed colour."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


@pytest.fixture(scope="module")
def emails() -> dict[str, str]:
    """The sample issue's email for everyone and for one segment, as a recipient gets it."""
    everyone, segment = Renderer(SETTINGS).render_segments(
        sample_digest(), [Audience(ALL, ()), Audience("s", ("Security", "Human Rights"))]
    )
    return {"email": filled(everyone.email.html), "segment": filled(segment.email.html)}


@pytest.fixture
def open_page(chromium: Any) -> Iterator[Any]:
    contexts: list[Any] = []

    def open_(html: str, width: int, scheme: str) -> Any:
        context = chromium.new_context(
            viewport={"width": width, "height": 900}, color_scheme=scheme
        )
        contexts.append(context)
        page = context.new_page()
        page.route("**/*", lambda route: route.abort())  # images blocked, no network
        page.set_content(html, wait_until="load")
        return page

    yield open_
    for context in contexts:
        context.close()


def low_contrast(page: Any, scheme: str) -> list[dict[str, Any]]:
    texts = page.evaluate(CONTRAST_JS, CANVAS[scheme])
    assert len(texts) > 25  # the walk found the email's text
    return [t for t in texts if t["ratio"] < 4.5]


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("name", ["email", "segment"])
def test_palette_has_no_overflow_and_readable_text(
    emails: dict[str, str], open_page: Any, name: str, scheme: str, width: int
) -> None:
    page = open_page(emails[name], width, scheme)
    scroll = page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll == width, f"{name} in {scheme} at {width}px scrolls to {scroll}px"
    assert low_contrast(page, scheme) == []
    theme = SETTINGS.theme
    surface = page.evaluate(
        "() => getComputedStyle(document.querySelector('.dm-surface')).backgroundColor"
    )
    body = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    link = page.evaluate("() => getComputedStyle(document.querySelector('.post p a')).color")
    if scheme == "dark":  # the dark palette is in use, not the client's guess
        assert (surface, body) == (rgb(theme.dark_surface_color), rgb(theme.dark_background_color))
        assert link == rgb(theme.dark_brand_color)
    else:
        assert (surface, body) == (rgb(theme.surface_color), rgb(theme.background_color))
        assert link == rgb(theme.brand_color)
    header = page.evaluate("() => getComputedStyle(document.querySelector('h1')).color")
    assert header == rgb(theme.header_text_color)  # on the brand colour in both palettes


@pytest.mark.browser
def test_outlook_dark_mode_attributes_switch_to_the_dark_palette(
    emails: dict[str, str], open_page: Any
) -> None:
    page = open_page(emails["email"], 375, "light")
    page.evaluate(
        "() => { for (const el of document.querySelectorAll('body > div'))"
        " { el.setAttribute('data-ogsc', ''); el.setAttribute('data-ogsb', ''); } }"
    )
    theme = SETTINGS.theme
    surface = page.evaluate(
        "() => getComputedStyle(document.querySelector('.dm-surface')).backgroundColor"
    )
    text = page.evaluate("() => getComputedStyle(document.querySelector('.post h3 a')).color")
    assert (surface, text) == (rgb(theme.dark_surface_color), rgb(theme.dark_text_color))
    assert [t for t in page.evaluate(CONTRAST_JS, CANVAS["dark"]) if t["ratio"] < 4.5] == []
