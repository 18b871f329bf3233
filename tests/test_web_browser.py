"""A real headless Chromium clicking through the unsubscribe and preferences pages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .web_setup import Site, open_site

pytestmark = pytest.mark.browser
BEN = "ben.carter@example.com"


@pytest.fixture
def site(project: Path, live_server: Callable[[Any], str]) -> Site:
    return open_site(project, live_server)


def test_unsubscribe_needs_the_confirm_click(site: Site, browser_page: Any) -> None:
    page = browser_page
    page.goto(f"{site.url}/unsubscribe/{site.token(BEN)}")
    assert page.get_by_role("heading", level=1).inner_text() == "Unsubscribe?"
    assert site.status(BEN) == "active"  # opening the link changed nothing
    page.get_by_role("button", name="Unsubscribe").click()
    page.get_by_role("heading", name="You are unsubscribed").wait_for()
    assert BEN in page.inner_text("main")
    assert site.status(BEN) == "unsubscribed"
    [row] = site.suppression_rows()
    assert row["detail"] == "confirm page"


def test_preferences_page_saves_areas_then_unsubscribes(site: Site, browser_page: Any) -> None:
    page = browser_page
    page.set_viewport_size({"width": 360, "height": 740})  # a small phone
    page.goto(f"{site.url}/preferences/{site.token(BEN)}")
    assert page.get_by_label("International Politics").is_checked()
    assert page.get_by_label("Security").is_checked()
    assert not page.get_by_label("Climate & Energy").is_checked()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scroll
    page.get_by_label("Security").uncheck()
    page.get_by_label("Climate & Energy").check()
    page.get_by_role("button", name="Save preferences").click()
    page.get_by_role("status").wait_for()
    assert "saved" in page.get_by_role("status").inner_text()
    assert page.get_by_label("Climate & Energy").is_checked()
    list_id = site.store.subscribers.find_list("weekly")
    assert list_id is not None
    row = site.store.subscribers.find(list_id, BEN)
    assert row is not None and row.areas == ("International Politics", "Climate & Energy")
    with page.expect_navigation():
        page.get_by_role("button", name="Every area").click()
    page.get_by_role("status").wait_for()
    assert not page.get_by_label("Climate & Energy").is_checked()
    row = site.store.subscribers.find(list_id, BEN)
    assert row is not None and row.areas == ()
    page.get_by_role("button", name="Unsubscribe").click()
    page.get_by_role("heading", name="You are unsubscribed").wait_for()
    assert site.status(BEN) == "unsubscribed"


def test_a_forged_link_shows_an_error_page(site: Site, browser_page: Any) -> None:
    body, mac = site.token(BEN).split(".")
    response = browser_page.goto(f"{site.url}/unsubscribe/{body}.{mac[::-1]}")
    assert response.status == 403
    assert "not valid" in browser_page.get_by_role("alert").inner_text()
    assert browser_page.get_by_role("button").count() == 0
