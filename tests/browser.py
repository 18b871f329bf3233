"""Shared fixtures for tests that need a live server or a browser.

``live_server(app)`` runs an ASGI app under a real uvicorn on a free loopback port and returns
its base URL. ``chromium`` is Debian's headless Chromium driven by Playwright; it skips when no
Chromium is installed, except on CI (``CI=true``) where a missing browser is a failure.
Registered for every test through ``pytest_plugins`` in ``tests/conftest.py``.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

CHROMIUM = Path("/usr/bin/chromium")
PATIENCE_MS = 60_000
"""How long a page action, navigation or ``expect`` may take: Playwright's defaults (30 s, and
5 s for ``expect``) are for an idle machine; a busy one still finishes, just later."""
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class LiveServer:
    """One uvicorn server in a thread, on a socket bound before it starts (no port races)."""

    def __init__(self, app: Any):
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 300  # a generous bound on a busy machine, not a wait
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.socket.close()


@pytest.fixture
def live_server() -> Iterator[Callable[[Any], str]]:
    """Start ``app`` under uvicorn on 127.0.0.1; returns the server's base URL."""
    servers: list[LiveServer] = []

    def start(app: Any) -> str:
        server = LiveServer(app)
        server.start()
        servers.append(server)
        return server.url

    yield start
    for server in servers:
        server.stop()


def chromium_path() -> Path | None:
    if CHROMIUM.exists():
        return CHROMIUM
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return Path(found) if found else None


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """A headless Chromium (Playwright ``Browser``) shared by the session's tests."""
    path = chromium_path()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("no Chromium at /usr/bin/chromium, and browser tests must run on CI")
        pytest.skip("no Chromium installed (apt install chromium)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=PATIENCE_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(path), args=CHROMIUM_ARGS, timeout=PATIENCE_MS
        )
        try:
            yield browser
        finally:
            browser.close()


def new_context(chromium: Any, **options: Any) -> Any:
    """A fresh browser context (no shared cookies or cache) with patient default timeouts."""
    context = chromium.new_context(**options)
    context.set_default_timeout(PATIENCE_MS)
    context.set_default_navigation_timeout(PATIENCE_MS)
    return context


@pytest.fixture
def browser_page(chromium: Any) -> Iterator[Any]:
    """A page in a fresh browser context."""
    context = new_context(chromium)
    try:
        yield context.new_page()
    finally:
        context.close()


def artifacts_dir() -> Path:
    """Where failing browser tests leave screenshots: ``$DIGEST_ARTIFACTS`` or ``artifacts/``."""
    chosen = os.environ.get("DIGEST_ARTIFACTS")
    return Path(chosen) if chosen else Path(__file__).resolve().parent.parent / "artifacts"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Screenshot the ``browser_page`` of a test that failed, for CI to keep as an artifact."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    page = getattr(item, "funcargs", {}).get("browser_page")
    if report.when != "call" or not report.failed or page is None:
        return
    folder = artifacts_dir()
    target = folder / (re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid)[:150] + ".png")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(target), full_page=True)
    except Exception as exc:  # the test's own failure matters more than the screenshot
        report.sections.append(("screenshot", f"could not save: {exc}"))
    else:
        report.sections.append(("screenshot", str(target)))
