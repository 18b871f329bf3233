"""Save a screenshot of the editors' desk on the default project to docs/screenshots/desk.png.

Run by ``make desk-screenshot``: copies the default project to a temporary folder, collects its
posts, serves ``digest serve``'s app on a free loopback port and shoots it in headless Chromium:
a laptop-sized window scrolled to the posts, with the preview kept in view beside them, just
after an editor saved a summary.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from digest.config.load import load_settings
from digest.pipeline import Pipeline
from digest.store import Store
from digest.subscribers.membership import sync_list as sync_roster
from digest.tokens import Signer
from digest.web import create_app

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.browser import CHROMIUM, CHROMIUM_ARGS, LiveServer  # noqa: E402

TARGET = ROOT / "docs" / "screenshots" / "desk.png"
NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


def project(folder: Path) -> Path:
    """A copy of the default project, with two editor addresses for test sends."""
    for name in ("templates", "subscribers", "posts"):
        shutil.copytree(ROOT / name, folder / name)
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    text = text.replace(
        'path = "../shared/samples"', f'path = "{ROOT.parent / "shared" / "samples"}"'
    )
    text += '\n[desk]\neditors = ["editors@example.org", "copydesk@example.org"]\n'
    (folder / "config.toml").write_text(text, encoding="utf-8")
    return folder / "config.toml"


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(project(Path(tmp)))
        store = Store(settings.database.url)
        pipeline = Pipeline(settings, store, clock=lambda: NOW)
        sync_roster(settings, store, "weekly", NOW)
        pipeline.collect()
        post = next(p for p in pipeline.candidates("weekly") if "WTO" in p.title)
        store.posts.edit(post.id, "pin", None, "docs", NOW)
        app = create_app(settings, store, signer=Signer(b"screenshot-key-" * 3), clock=lambda: NOW)
        server = LiveServer(app)
        server.start()
        url = f"{server.url}/desk/lists/weekly"
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
                )
                page = browser.new_page(viewport={"width": 1440, "height": 900})
                page.goto(url)
                frame = page.frame_locator("iframe[title^='Desktop']")
                expect(frame.get_by_role("heading", name=post.title)).to_be_visible()
                expect(page.locator("[data-desk]")).to_have_attribute("data-live-ready", "yes")
                summary = page.locator(f"#summary-{post.id}")
                shorter = " ".join((summary.input_value().split(". ")[0] + ".").split())
                summary.fill(shorter)
                page.locator(f"#b-{post.id}-save").click()
                expect(page.locator(f"#msg-post-{post.id}")).to_contain_text("set summary")
                expect(frame.get_by_text(shorter)).to_be_visible()
                frame.get_by_text(shorter).evaluate(
                    "(e) => scrollTo(0, e.getBoundingClientRect().top + scrollY - 200)"
                )
                page.locator(f"#post-{post.id}").evaluate(
                    "(e) => window.scrollTo(0, e.getBoundingClientRect().top + window.scrollY - 8)"
                )
                TARGET.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(TARGET))
                browser.close()
        finally:
            server.stop()
            store.close()
    print(f"saved {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
