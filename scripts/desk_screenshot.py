"""Save a screenshot of the editors' desk on the default project to docs/screenshots/desk.png.

Run by ``make desk-screenshot``: copies the default project to a temporary folder, collects its
posts, serves ``digest serve``'s app on a free loopback port and shoots it in headless Chromium.
"""

from __future__ import annotations

import shutil
import socket
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import uvicorn
from playwright.sync_api import expect, sync_playwright

from digest.config import load_settings
from digest.pipeline import Pipeline
from digest.send import sync_roster
from digest.store import Store
from digest.tokens import Signer
from digest.web import create_app

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "docs" / "screenshots" / "desk.png"
NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


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
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/desk/lists/weekly"
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                page = browser.new_page(viewport={"width": 1920, "height": 1200})
                page.goto(url)
                frame = page.frame_locator("iframe[title^='Desktop']")
                expect(frame.get_by_role("heading", name=post.title)).to_be_visible()
                TARGET.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(TARGET))
                browser.close()
        finally:
            server.should_exit = True
            thread.join(timeout=30)
            store.close()
    print(f"saved {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
