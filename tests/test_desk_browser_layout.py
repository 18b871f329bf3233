"""The desk in headless Chromium: the preview beside the controls, the keyboard alone, axe-core.

Uses ``tests/browser.py`` (Debian's Chromium through Playwright) and ``tests/axe.py`` (axe-core
from ``npm ci``); both skip off CI when missing, and fail on CI.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.axe import axe_violations, describe
from tests.conftest import needs_shared
from tests.desk_setup import TOKEN, DeskSite, open_desk

pytestmark = pytest.mark.browser


@pytest.fixture
def site(project: Path, live_server: Callable[[Any], str]) -> DeskSite:
    return open_desk(project, live_server, test_domains=("example.net",))


@pytest.fixture
def axe_page(chromium: Any) -> Iterator[Any]:
    """A fresh page whose context lets axe-core's injected script past the desk's CSP."""
    context = chromium.new_context(bypass_csp=True, viewport={"width": 1280, "height": 800})
    try:
        yield context.new_page()
    finally:
        context.close()


def _open(page: Any, site: DeskSite, width: int, height: int, query: str = "") -> Any:
    from playwright.sync_api import expect

    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{site.desk}/lists/weekly{query}")
    expect(page.locator("[data-desk]")).to_have_attribute("data-live-ready", "yes")
    return page


def _in_view(page: Any, selector: str) -> None:
    """The element's whole box is inside the viewport."""
    box = page.locator(selector).bounding_box()
    size = page.viewport_size
    assert box is not None, selector
    assert box["y"] >= 0 and box["x"] >= 0, (selector, box)
    assert box["y"] + box["height"] <= size["height"], (selector, box, size)
    assert box["x"] + box["width"] <= size["width"], (selector, box, size)


def _desktop(page: Any) -> Any:
    return page.frame_locator("iframe[title^='Desktop']")


def test_after_an_edit_the_preview_and_the_control_are_both_in_view(
    site: DeskSite, browser_page: Any
) -> None:
    from playwright.sync_api import expect

    page = _open(browser_page, site, 1280, 800)
    last = site.pipeline.build("weekly").digest.posts[-1]
    summary = "Edited far down the page, and seen without scrolling back up."
    page.locator(f"#summary-{last.id}").fill(summary)
    page.locator(f"#b-{last.id}-save").click()
    answer = page.locator(f"#msg-post-{last.id}")
    expect(answer).to_contain_text("set summary")
    expect(_desktop(page).get_by_text(summary)).to_be_visible()
    assert page.evaluate("window.scrollY") > 800  # the post is far below the preview's start
    _in_view(page, "#preview-region")
    _in_view(page, f"#b-{last.id}-save")
    _in_view(page, f"#msg-post-{last.id}")
    expect(page.locator("#announce")).to_be_empty()  # not at the top of the page
    button = page.locator(f"#b-{last.id}-save").bounding_box()
    message = answer.bounding_box()
    assert 0 <= message["y"] - button["y"] < 400  # beside the button pressed
    assert answer.get_attribute("aria-live") == "polite"


def test_a_narrow_screen_stacks_issue_preview_then_posts(site: DeskSite, browser_page: Any) -> None:
    page = _open(browser_page, site, 390, 844)
    boxes = {
        name: page.locator(f"#{name}-region").bounding_box()
        for name in ("issue", "preview", "posts")
    }
    assert boxes["issue"]["y"] < boxes["preview"]["y"] < boxes["posts"]["y"]
    assert all(b["width"] <= 390 for b in boxes.values())
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0


def test_edit_the_subject_and_see_the_preview_follow(site: DeskSite, browser_page: Any) -> None:
    from playwright.sync_api import expect

    page = _open(browser_page, site, 1280, 800, "?segment=security")
    automatic = site.pipeline.build("weekly").email.subject
    expect(page.locator("#issue-subject-auto")).to_contain_text(automatic)
    page.locator("#segment-subject").fill("Only for security readers")
    page.locator("#b-headline-segment").click()
    expect(page.locator("#msg-headline-segment")).to_contain_text("Saved")
    expect(page.locator("#subject")).to_have_text("Only for security readers")
    expect(page.locator("#segment-subject")).to_have_value("Only for security readers")
    page.locator("#segment").select_option("all")
    expect(page.locator("#subject")).to_have_text(automatic)


def test_move_a_post_down_and_the_email_follows(site: DeskSite, browser_page: Any) -> None:
    needs_shared()  # counts on the sample post from ../shared
    from playwright.sync_api import expect

    page = _open(browser_page, site, 1280, 800)
    section = next(s for s in site.pipeline.build("weekly").digest.sections if len(s.posts) > 1)
    first, second = section.posts[0], section.posts[1]
    expect(page.locator(f"#b-{first.id}-up")).to_be_disabled()
    page.locator(f"#b-{first.id}-down").click()
    expect(page.locator(f"#msg-post-{first.id}")).to_contain_text("now 2 of")
    expect(page.locator(f"#b-{first.id}-down")).to_be_focused()
    ids = page.locator("#posts-region li.post").evaluate_all("(els) => els.map((e) => e.id)")
    assert ids.index(f"post-{second.id}") < ids.index(f"post-{first.id}")
    # the preview's frame is swapped in and loads after the answer: wait for the new order
    expect(_desktop(page).locator(_heading_after(second.title, first.title))).to_have_count(1)


HEADING = "*[self::h1 or self::h2 or self::h3 or self::h4]"


def _heading_after(before: str, after: str) -> str:
    """XPath: the heading reading ``after`` that follows the heading reading ``before``."""

    def literal(text: str) -> str:
        parts = text.split('"')
        quoted = ", '\"', ".join(f'"{p}"' for p in parts)
        return quoted if len(parts) == 1 else f"concat({quoted})"

    return (
        f"xpath=//{HEADING}[normalize-space()={literal(before)}]"
        f"/following::{HEADING}[normalize-space()={literal(after)}]"
    )


def _tab_to(page: Any, element_id: str, key: str = "Tab", limit: int = 400) -> None:
    """Press ``key`` until the element with ``element_id`` has the focus."""
    for _ in range(limit):
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
        page.keyboard.press(key)
    raise AssertionError(f"{key} never reached #{element_id}")


def test_edit_exclude_and_approve_with_the_keyboard_alone(
    site: DeskSite, browser_page: Any
) -> None:
    from playwright.sync_api import expect

    page = _open(browser_page, site, 1280, 800)
    posts = site.pipeline.build("weekly").digest.posts
    edited, dropped = posts[0], posts[3]
    summary = "Typed without a mouse."
    _tab_to(page, f"summary-{edited.id}")
    page.keyboard.press("Control+A")
    page.keyboard.type(summary)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == f"b-{edited.id}-save"
    page.keyboard.press("Enter")
    expect(page.locator(f"#msg-post-{edited.id}")).to_contain_text("set summary")
    expect(_desktop(page).get_by_text(summary)).to_be_visible()
    _tab_to(page, f"b-{dropped.id}-in")
    page.keyboard.press("Space")
    expect(page.locator(f"#post-{dropped.id}")).to_have_class(re.compile(r"\bexcluded\b"))
    expect(page.locator(f"#b-{dropped.id}-in")).to_be_focused()
    expect(page.locator(f"#b-{dropped.id}-pin")).to_be_disabled()
    _tab_to(page, "confirm", key="Shift+Tab")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "b-approve"
    page.keyboard.press("Enter")
    expect(page.locator("#issue-region .status")).to_have_text("approved")
    expect(page.locator("#msg-approve")).to_contain_text("approved")
    stored = site.store.posts.get(edited.id)
    assert stored.summary_override == summary and site.store.posts.get(dropped.id).excluded
    built = site.pipeline.build("weekly")
    assert built.stored is not None and built.stored.status == "approved"


@pytest.mark.parametrize(
    "path", ["/", "/lists/weekly", "/lists/weekly?segment=security", "approved"]
)
def test_axe_finds_nothing_serious_on_the_desk(site: DeskSite, axe_page: Any, path: str) -> None:
    from playwright.sync_api import expect

    page = axe_page
    if path == "approved":
        site.pipeline.approve("weekly", "tests")
        path = "/lists/weekly"
    page.goto(f"{site.desk}{path}")
    expect(page.locator("h1")).to_be_visible()
    violations = axe_violations(page)
    assert not violations, describe(violations)


def test_axe_finds_nothing_serious_on_the_login_page(
    project: Path,
    live_server: Callable[[Any], str],
    axe_page: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from playwright.sync_api import expect

    monkeypatch.setenv("DIGEST_DESK_TOKEN", TOKEN)
    site = open_desk(project, live_server, host="0.0.0.0")
    page = axe_page
    page.goto(f"{site.desk}/login")
    expect(page.locator("#name")).to_be_visible()
    violations = axe_violations(page)
    assert not violations, describe(violations)
