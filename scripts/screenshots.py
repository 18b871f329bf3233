"""Screenshots of the sample issue's email for the README (``make screenshots``).

Renders ``digest.sample`` with the project's config and templates, fills the per-recipient
placeholders with sample values, and photographs the whole page in Debian's headless Chromium:
everyone and one segment at 375 and 800 px, and everyone in dark mode at 375 px. The lead's
picture is answered with a drawn stand-in; nothing else leaves the page.

    .venv/bin/python scripts/screenshots.py [OUT_DIR] [--config config.toml]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from digest.config import load_settings
from digest.models import RenderedEmail
from digest.placeholders import fill
from digest.render import Renderer
from digest.sample import LEAD_IMAGE, sample_digest
from digest.segments import Audience
from tests.browser import CHROMIUM, CHROMIUM_ARGS

SHOTS = (  # (name, page, width, colour scheme)
    ("email-375", "email", 375, "light"),
    ("email-800", "email", 800, "light"),
    ("email-dark-375", "email", 375, "dark"),
    ("email-segment-375", "email-segment", 375, "light"),
    ("email-segment-800", "email-segment", 800, "light"),
)
SAMPLE_RECIPIENT = {
    "email": "reader@example.org",
    "name": "Sample Reader",
    "unsubscribe_url": "https://digest.example.org/unsubscribe/sample",
    "preferences_url": "https://digest.example.org/preferences/sample",
}
PICTURE = """<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="675"
viewBox="0 0 1200 675"><defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1">
<stop offset="0" stop-color="#f6c28b"/><stop offset="1" stop-color="#9cc3e6"/>
</linearGradient></defs>
<rect width="1200" height="675" fill="url(#sky)"/><circle cx="930" cy="250" r="70" fill="#fde7c2"/>
<rect y="400" width="1200" height="275" fill="#2c5d87"/>
<path d="M0 430 L260 415 L420 440 L700 420 L1200 440 L1200 470 L0 470 Z" fill="#e8f1f8"/>
<path d="M360 420 L820 420 L780 470 L390 470 Z" fill="#7a2e2e"/>
<rect x="560" y="360" width="130" height="60" fill="#f2f2f2"/>
<rect x="600" y="330" width="40" height="30" fill="#333"/></svg>"""


def page_html(email: RenderedEmail) -> str:
    return fill(email.html, email.placeholders, "html", SAMPLE_RECIPIENT)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("out", nargs="?", default="docs/screenshots", type=Path)
    parser.add_argument("--config", default="config.toml", type=Path)
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print(f"screenshots: no Chromium at {CHROMIUM} (apt install chromium)", file=sys.stderr)
        return 1
    renderer = Renderer(load_settings(args.config))
    digest = sample_digest()
    segment = Audience("segment", ("Security", "Human Rights"))
    pages = {
        "email": page_html(renderer.render(digest)),
        "email-segment": page_html(renderer.render_segments(digest, [segment])[0].email),
    }

    def route(request: Any) -> None:  # self-contained: only the lead's picture is answered
        if request.request.url == LEAD_IMAGE.url:
            request.fulfill(status=200, content_type="image/svg+xml", body=PICTURE)
        else:
            request.abort()

    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for name, key, width, scheme in SHOTS:
                context = browser.new_context(
                    viewport={"width": width, "height": 800}, color_scheme=scheme
                )
                page = context.new_page()
                page.route("**/*", route)
                page.set_content(pages[key], wait_until="load")
                path = args.out / f"{name}.png"
                page.screenshot(path=str(path), full_page=True)
                context.close()
                print(path)
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
