"""The editors' desk in headless Chromium: the whole edit, preview, test and approve loop.

Uses ``tests/browser.py`` (Debian's Chromium through Playwright, skipped only off CI when no
Chromium is installed; a failing test leaves a screenshot in ``$DIGEST_ARTIFACTS``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.desk_setup import EDITORS, DeskSite, open_desk

pytestmark = pytest.mark.browser


@pytest.fixture
def site(project: Path, live_server: Callable[[Any], str]) -> DeskSite:
    return open_desk(project, live_server)


@pytest.fixture
def desk(site: DeskSite, browser_page: Any) -> Any:
    """The weekly list's desk page, open at a wide viewport, its live-reload stream ready."""
    from playwright.sync_api import expect

    page = browser_page
    page.set_viewport_size({"width": 1700, "height": 1200})
    page.goto(f"{site.desk}/lists/weekly")
    expect(page.locator("[data-desk]")).to_have_attribute("data-live-ready", "yes")
    page.evaluate("window.deskMarker = 'no full reload'")
    return page


def _desktop(page: Any) -> Any:
    return page.frame_locator("iframe[title^='Desktop']")


def _no_reload(page: Any) -> None:
    assert page.evaluate("window.deskMarker") == "no full reload"


def test_open_the_desk(site: DeskSite, browser_page: Any) -> None:
    from playwright.sync_api import expect

    page = browser_page
    page.set_viewport_size({"width": 1700, "height": 1200})
    page.goto(f"{site.desk}/")
    expect(page.get_by_role("heading", name="Coming issues")).to_be_visible()
    page.get_by_role("link", name="Open the desk for weekly").click()
    expect(page.get_by_role("heading", name="weekly: the coming issue")).to_be_visible()
    lead = site.pipeline.build("weekly").digest.posts[0]
    expect(_desktop(page).get_by_role("heading", name=lead.title)).to_be_visible()
    desktop = page.locator("iframe[title^='Desktop']").bounding_box()["width"]
    page.get_by_role("tab", name="Mobile").click()
    mobile = page.frame_locator("iframe[title^='Mobile']")
    expect(mobile.get_by_role("heading", name=lead.title)).to_be_visible()
    expect(page.locator("#panel-html")).to_be_hidden()
    narrow = page.locator("iframe[title^='Mobile']").bounding_box()["width"]
    assert [round(desktop), round(narrow)] == [800, 375]
    page.get_by_role("tab", name="Plain text").click()
    expect(page.locator("#panel-text pre")).to_contain_text(lead.url or "")
    expect(page.locator("#panel-html")).to_be_hidden()


def test_edit_a_summary_and_see_it_in_the_preview(site: DeskSite, desk: Any) -> None:
    from playwright.sync_api import expect

    post = site.post_id("WTO")
    summary = "An editor rewrote this summary in the browser, and the preview followed."
    automatic = desk.locator(f"#post-{post} .automatic p")
    expect(automatic).not_to_be_empty()
    desk.locator(f"#summary-{post}").fill(summary)
    desk.locator(f"#post-{post} button[value='set-summary']").click()
    expect(desk.locator(f"#msg-post-{post}")).to_contain_text("set summary")
    expect(_desktop(desk).get_by_text(summary)).to_be_visible()
    expect(desk.locator(f"#post-{post} label[for='summary-{post}']")).to_have_text(
        "Summary (edited)"
    )
    _no_reload(desk)
    assert site.store.posts.get(post).summary_override == summary


def test_exclude_a_post_and_see_it_gone(site: DeskSite, desk: Any) -> None:
    from playwright.sync_api import expect

    post = site.post_id("WTO")
    title = site.store.posts.get(post).title
    expect(_desktop(desk).get_by_role("heading", name=title)).to_be_visible()
    desk.locator(f"#post-{post} button[value='exclude']").click()
    expect(desk.locator(f"#post-{post}")).to_have_class(re.compile(r"\bexcluded\b"))
    expect(_desktop(desk).get_by_text(title)).to_have_count(0)
    _no_reload(desk)
    desk.locator(f"#post-{post} button[value='include']").click()
    expect(_desktop(desk).get_by_role("heading", name=title)).to_be_visible()


def test_pin_and_move_a_post(site: DeskSite, desk: Any) -> None:
    from playwright.sync_api import expect

    post = site.post_id("WTO")
    desk.locator(f"#post-{post} button[value='pin']").click()
    expect(desk.locator(f"#post-{post} .badge")).to_have_text("Pinned")
    desk.locator(f"#area-{post}").select_option("Human Rights")
    desk.locator(f"#post-{post} button[value='set-area']").click()
    expect(desk.locator(f"#post-{post} .meta")).to_contain_text("Section: Human Rights (moved)")
    _no_reload(desk)
    assert site.store.posts.get(post).area_override == "Human Rights"


def test_switch_to_a_segment(desk: Any) -> None:
    from playwright.sync_api import expect

    expect(_desktop(desk).get_by_text("Also this week")).to_have_count(0)
    desk.locator("#segment").select_option("security")
    expect(desk.locator("iframe[title^='Desktop']")).to_have_attribute(
        "src", re.compile(r"segment=security")
    )
    expect(_desktop(desk).get_by_text("Also this week")).to_be_visible()
    assert "segment=security" in desk.url
    _no_reload(desk)


def test_send_a_test_to_the_outbox(site: DeskSite, desk: Any) -> None:
    from playwright.sync_api import expect

    desk.get_by_role("button", name="Send test").click()
    expect(desk.locator("#msg-test")).to_contain_text("Test of issue #1 sent")
    expect(desk.locator("#activity-region")).to_contain_text("sent a test of issue #1")
    messages = site.outbox()
    assert sorted(m["To"] for m in messages) == sorted(EDITORS)
    assert all(m["Subject"].startswith("[TEST] ") for m in messages)


def test_approve(site: DeskSite, desk: Any) -> None:
    from playwright.sync_api import expect

    desk.get_by_label("I have checked issue #1; it may go out.").check()
    desk.get_by_role("button", name="Approve issue #1").click()
    expect(desk.locator("#issue-region .status")).to_have_text("approved")
    expect(desk.locator("#activity-region")).to_contain_text("approved issue #1")
    expect(desk.locator("#posts-region button[value='exclude']").first).to_be_disabled()


def test_saving_a_template_reloads_the_preview(site: DeskSite, desk: Any) -> None:
    from playwright.sync_api import expect

    template = site.project / "templates" / "digest.mjml.j2"
    text = template.read_text(encoding="utf-8")
    marker = "Saved while the desk was open"
    assert "</mj-body>" in text
    template.write_text(
        text.replace("</mj-body>", f"<mj-section><mj-column><mj-text>{marker}</mj-text>"
                     "</mj-column></mj-section></mj-body>"),
        encoding="utf-8",
    )  # fmt: skip
    expect(_desktop(desk).get_by_text(marker)).to_be_visible()
    _no_reload(desk)


def test_the_desk_fits_a_phone(site: DeskSite, browser_page: Any) -> None:
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{site.desk}/lists/weekly")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
