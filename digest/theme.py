"""WCAG 2 contrast of the configured theme's colors, and the font-stack fallback check."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import ThemeSettings

MIN_CONTRAST = 4.5
"""WCAG 2.1 AA minimum for body-size text."""

GENERIC_FONTS = ("serif", "sans-serif", "monospace", "system-ui", "ui-sans-serif", "ui-serif")

PAIRS = (
    ("text_color", "surface_color", "body text"),
    ("muted_color", "surface_color", "author lines and footer"),
    ("brand_color", "surface_color", "links and section titles"),
    ("header_text_color", "brand_color", "header text"),
    ("muted_color", "background_color", "the 'view in browser' line"),
    ("dark_text_color", "dark_surface_color", "body text in dark mode"),
    ("dark_muted_color", "dark_surface_color", "author lines and footer in dark mode"),
    ("dark_brand_color", "dark_surface_color", "links and section titles in dark mode"),
    ("dark_muted_color", "dark_background_color", "the 'view in browser' line in dark mode"),
)
"""(foreground key, background key, where the pair appears) for every text the email shows,
in both palettes."""


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(color: str) -> float:
    """Relative luminance of a ``#rrggbb`` color, as WCAG 2 defines it."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colors, from 1.0 to 21.0."""
    a, b = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def contrast_problems(theme: ThemeSettings) -> list[str]:
    """One message per color pair of ``theme`` below the WCAG AA ratio."""
    problems = []
    for fg, bg, where in PAIRS:
        ratio = contrast(getattr(theme, fg), getattr(theme, bg))
        if ratio < MIN_CONTRAST:
            problems.append(
                f"{fg} {getattr(theme, fg)} on {bg} {getattr(theme, bg)} ({where}) has contrast "
                f"{ratio:.2f}:1; at least {MIN_CONTRAST}:1 is needed"
            )
    return problems


def font_problem(stack: str) -> str | None:
    """A message when ``stack`` does not end in a generic family or holds unsafe characters."""
    if any(ch in stack for ch in ';{}<>"'):
        return f"font_family: unexpected character in {stack!r}"
    last = stack.split(",")[-1].strip().strip("'").lower()
    if last not in GENERIC_FONTS:
        return (
            f"font_family: {stack!r} must end in a generic family "
            f"({', '.join(GENERIC_FONTS[:3])}) so no web font is required"
        )
    return None
