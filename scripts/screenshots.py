"""Screenshots of the sample issue's email at 375 and 800 px, for the README (``make screenshots``).

Renders ``digest.render.sample`` with the project's config and templates, fills the per-recipient
placeholders with sample values, and photographs the whole page in Debian's headless Chromium.

    .venv/bin/python scripts/screenshots.py [OUT_DIR] [--config config.toml]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

from digest.config.load import load_settings
from digest.models import Audience
from digest.render.renderer import PLACEHOLDERS, Renderer, fill
from digest.render.sample import sample_digest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.browser import CHROMIUM, CHROMIUM_ARGS

WIDTHS = (375, 800)
SAMPLE_RECIPIENT = {
    PLACEHOLDERS.email_html: "reader@example.org",
    PLACEHOLDERS.email: "reader@example.org",
    PLACEHOLDERS.name_html: "Sample Reader",
    PLACEHOLDERS.name: "Sample Reader",
    PLACEHOLDERS.unsubscribe_url: "https://digest.example.org/unsubscribe/sample",
    PLACEHOLDERS.preferences_url: "https://digest.example.org/preferences/sample",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="docs/screenshots", type=Path)
    parser.add_argument("--config", default="config.toml", type=Path)
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print(f"screenshots: no Chromium at {CHROMIUM} (apt install chromium)", file=sys.stderr)
        return 1
    renderer = Renderer(load_settings(args.config))
    digest = sample_digest()
    pages = {
        "email": renderer.render(digest).html,
        "email-segment": renderer.render_segments(
            digest, [Audience("segment", ("Security", "Human Rights"))]
        )[0].email.html,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for name, html in pages.items():
                for width in WIDTHS:
                    context = browser.new_context(viewport={"width": width, "height": 800})
                    page = context.new_page()
                    page.route("**/*", lambda route: route.abort())  # self-contained: no network
                    page.set_content(fill(html, SAMPLE_RECIPIENT), wait_until="load")
                    path = args.out / f"{name}-{width}.png"
                    page.screenshot(path=str(path), full_page=True)
                    context.close()
                    print(path)
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
