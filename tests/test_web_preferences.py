"""``/preferences/<token>`` on a real server: choose areas of focus, or unsubscribe."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from digest.subscribers.roster import read_roster

from . import web_client
from .web_setup import NOW, Site, open_site

BEN = "ben.carter@example.com"


@pytest.fixture
def site(project: Path, live_server: Callable[[Any], str]) -> Site:
    return open_site(project, live_server)


def areas(site: Site, email: str) -> tuple[str, ...]:
    list_id = site.store.subscribers.find_list("weekly")
    assert list_id is not None
    row = site.store.subscribers.find(list_id, email)
    assert row is not None
    return row.areas


def test_the_form_offers_the_canonical_areas_with_current_ones_checked(site: Site) -> None:
    r = web_client.get(f"{site.url}/preferences/{site.token(BEN)}")
    assert r.status_code == 200
    for area in site.settings.taxonomy.areas:
        assert f'value="{area.name.replace("&", "&amp;")}"' in r.text
    assert 'value="International Politics" aria-describedby="areas-hint" checked' in r.text
    assert 'value="Foreign Affairs" aria-describedby="areas-hint">' in r.text
    assert r.text.count("<label for=") == len(site.settings.taxonomy.areas)


def test_saving_areas_records_them_and_a_roster_sync_keeps_them(site: Site) -> None:
    url = f"{site.url}/preferences/{site.token(BEN)}"
    r = web_client.post(url, data={"areas": ["Security", "Climate & Energy"], "action": "save"})
    assert r.status_code == 200 and "saved" in r.text
    assert areas(site, BEN) == ("Security", "Climate & Energy")  # in section order
    lst = site.settings.list("weekly")
    list_id = site.store.subscribers.list_id("weekly")
    site.store.subscribers.sync(list_id, read_roster(lst.subscribers).subscribers, NOW)
    assert areas(site, BEN) == ("Security", "Climate & Energy")
    every = web_client.post(url, data={"action": "all"})  # the form's "Every area" button
    assert every.status_code == 200 and areas(site, BEN) == ()


def test_unknown_areas_are_refused(site: Site) -> None:
    url = f"{site.url}/preferences/{site.token(BEN)}"
    r = web_client.post(url, data={"areas": ["Security", "<script>"], "action": "save"})
    assert r.status_code == 400 and "<script>" not in r.text
    assert areas(site, BEN) == ("International Politics", "Security")
    assert web_client.post(url, data={"action": "delete-everything"}).status_code == 400


def test_unsubscribing_from_the_preferences_page(site: Site) -> None:
    url = f"{site.url}/preferences/{site.token(BEN)}"
    r = web_client.post(url, data={"action": "unsubscribe"})
    assert r.status_code == 200 and "You are unsubscribed" in r.text
    assert site.status(BEN) == "unsubscribed"
    [row] = site.suppression_rows()
    assert row["detail"] == "preferences page"
    after = web_client.post(url, data={"areas": ["Security"], "action": "save"})
    assert "You are unsubscribed" in after.text and areas(site, BEN)[0] == "International Politics"


def test_forged_tokens_change_no_preferences(site: Site) -> None:
    body, mac = site.token(BEN).split(".")
    url = f"{site.url}/preferences/{body}.{mac[::-1]}"
    assert web_client.get(url).status_code == 403
    r = web_client.post(url, data={"areas": ["Security"], "action": "save"})
    assert r.status_code == 403
    assert web_client.post(url, data={"action": "unsubscribe"}).status_code == 403
    assert areas(site, BEN) == ("International Politics", "Security")
    assert site.status(BEN) == "active"


def test_a_post_without_a_choice_changes_nothing(site: Site) -> None:
    url = f"{site.url}/preferences/{site.token(BEN)}"
    form = web_client.get(url).text
    assert '<button type="submit" name="action" value="all"' in form  # "all" is its own choice
    before = areas(site, BEN)
    empty = web_client.post(
        url, content=b"", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert empty.status_code == 400 and areas(site, BEN) == before
    assert web_client.post(url).status_code == 400 and areas(site, BEN) == before  # no body at all
    no_areas = web_client.post(url, data={"action": "save"})
    assert no_areas.status_code == 400 and "Check at least one area" in no_areas.text
    assert 'value="Security" aria-describedby="areas-hint" checked' in no_areas.text
    assert web_client.post(url, data={"areas": ["Security"]}).status_code == 400  # no action
    assert areas(site, BEN) == before
