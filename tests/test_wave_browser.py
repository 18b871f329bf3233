"""Delivery in readers' zones in headless Chromium: the preferences page's zone chooser used
with the keyboard alone, and the desk's wave plan at a phone's and a desktop's width; both
checked with axe-core.

Uses ``tests/browser.py`` (Debian's Chromium through Playwright) and ``tests/axe.py`` (axe-core
from ``npm ci``); both skip off CI when missing, and fail on CI.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from tests.axe import axe_violations, describe
from tests.browser import new_context
from tests.desk_setup import open_desk
from tests.test_waves import deliver_locally, local_list
from tests.web_setup import open_site

pytestmark = pytest.mark.browser
BEN = "ben.carter@example.com"
ZONE = "Asia/Kathmandu"


@pytest.fixture
def axe_page(chromium: Any) -> Iterator[Any]:
    """A fresh page whose context lets axe-core's injected script past the site's CSP."""
    context = new_context(chromium, bypass_csp=True, viewport={"width": 1280, "height": 800})
    try:
        yield context.new_page()
    finally:
        context.close()


def no_sideways_scroll(page: Any, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_a_reader_picks_a_zone_with_the_keyboard_and_saves_it(
    project: Path, live_server: Callable[[Any], str], axe_page: Any
) -> None:
    from playwright.sync_api import expect

    deliver_locally(project)
    site = open_site(project, live_server)
    page = axe_page
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(f"{site.url}/preferences/{site.token(BEN)}")
    chooser = page.get_by_label("Time zone")
    expect(chooser).to_have_value("")  # the list's zone until the reader picks one
    assert (violations := axe_violations(page)) == [], describe(violations)
    no_sideways_scroll(page, 375)

    for _ in range(60):  # Tab from the top of the page to the chooser
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "timezone":
            break
    else:
        raise AssertionError("the zone chooser is not reachable with Tab")
    options = chooser.locator("option").all_inner_texts()
    for _ in range(options.index(ZONE)):  # arrow down the list to the reader's zone
        page.keyboard.press("ArrowDown")
    expect(chooser).to_have_value(ZONE)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Save time zone"
    with page.expect_request(lambda r: r.method == "POST") as sent, page.expect_navigation():
        page.keyboard.press("Enter")
    form = parse_qs(sent.value.post_data)
    assert form == {"timezone": [ZONE], "action": ["timezone"]}  # what the server received

    expect(page.get_by_label("Time zone")).to_have_value(ZONE)
    list_id = site.store.subscribers.list_id("weekly")
    row = site.store.subscribers.find(list_id, BEN)
    assert row is not None and row.timezone == ZONE
    assert (violations := axe_violations(page)) == [], describe(violations)


@pytest.mark.parametrize("width", [375, 1280])
def test_the_desk_shows_the_wave_plan_legibly_at_phone_and_desktop_width(
    project: Path, live_server: Callable[[Any], str], axe_page: Any, width: int
) -> None:
    from playwright.sync_api import expect

    readers = {
        "tokyo@example.org": "Asia/Tokyo",
        "ktm@example.org": "Asia/Kathmandu",
        "ktm2@example.org": "Asia/Kathmandu",
        "nyc@example.org": "",
    }
    local_list(project, "0 7 * * 1", "America/New_York", readers, approval="required")
    site = open_desk(project, live_server)
    page = axe_page
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(f"{site.desk}/lists/weekly")
    block = page.locator("section.waves")
    expect(block).to_be_visible()
    expect(block.get_by_role("heading", name="Delivery in readers' time zones")).to_be_visible()
    # the approval deadline: the first wave, Tokyo's Monday 07:00
    deadline = block.locator("strong time")
    expect(deadline).to_have_attribute("datetime", "2026-11-29T22:00:00+00:00")
    expect(block).to_contain_text("approval is due at the first wave")
    table = block.get_by_role("table", name="Wave plan of the coming period")
    rows = [
        [c.strip() for c in r.locator("td").all_inner_texts()]
        for r in table.locator("tbody tr").all()
    ]
    assert [(r[1], r[2]) for r in rows] == [
        ("Asia/Tokyo 07:00", "1"),
        ("Asia/Kathmandu 07:00", "2"),
        ("America/New_York 07:00", "1"),
    ]
    assert [r[0] for r in rows] == ["Sun 29 Nov, 22:00", "Mon 30 Nov, 01:15", "Mon 30 Nov, 12:00"]
    expect(deadline).to_have_text("Sun 29 Nov 2026, 22:00 UTC")

    no_sideways_scroll(page, width)
    box = block.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
    for cell in [deadline, *table.locator("th, td").all()]:  # nothing cut off or too small
        cut = cell.evaluate("e => e.scrollWidth > e.clientWidth + 1 && e.clientWidth > 0")
        assert not cut, cell.inner_text()
        size = cell.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
        assert size >= 12, (cell.inner_text(), size)
    assert (violations := axe_violations(page)) == [], describe(violations)
