"""``/unsubscribe/<token>`` on a real uvicorn server: one-click, confirm page, and forgeries."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from digest.tokens import Signer, TokenClaims

from . import web_client
from .web_setup import Site, open_site

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.fixture
def site(project: Path, live_server: Callable[[Any], str]) -> Site:
    return open_site(project, live_server)


def test_one_click_post_unsubscribes_at_once(site: Site) -> None:
    token = site.token("ben.carter@example.com")
    # A mail provider's RFC 8058 POST: no cookie, no redirect followed, no page visited first.
    r = web_client.post(f"{site.url}/unsubscribe/{token}", data=ONE_CLICK, follow_redirects=False)
    assert r.status_code == 200
    assert "location" not in r.headers and "set-cookie" not in r.headers
    assert "You are unsubscribed" in r.text
    assert site.status("ben.carter@example.com") == "unsubscribed"
    [row] = site.suppression_rows()
    assert row["email"] == "ben.carter@example.com" and row["reason"] == "unsubscribed"
    assert row["detail"] == "one-click" and row["origin"] == "web"
    again = web_client.post(f"{site.url}/unsubscribe/{token}", data=ONE_CLICK)
    assert again.status_code == 200 and len(site.suppression_rows()) == 1


def test_one_click_as_multipart_form_data(site: Site) -> None:
    token = site.token("grace.lee@example.net")
    r = web_client.post(
        f"{site.url}/unsubscribe/{token}", files={"List-Unsubscribe": (None, "One-Click")}
    )
    assert r.status_code == 200
    assert site.status("grace.lee@example.net") == "unsubscribed"


def test_get_shows_a_confirm_button_and_never_unsubscribes(site: Site) -> None:
    url = f"{site.url}/unsubscribe/{site.token('ana.ribeiro@example.org')}"
    for _ in range(3):  # link scanners prefetch, sometimes repeatedly
        r = web_client.get(url)
        assert r.status_code == 200
        assert '<form method="post">' in r.text and "<button" in r.text
        assert 'name="List-Unsubscribe" value="One-Click"' in r.text
    assert web_client.head(url).status_code in (200, 405)
    assert site.status("ana.ribeiro@example.org") == "active"
    assert site.suppression_rows() == []


def test_only_this_list_is_left(site: Site) -> None:
    token = site.token("ana.ribeiro@example.org", "weekly")
    assert web_client.post(f"{site.url}/unsubscribe/{token}", data=ONE_CLICK).status_code == 200
    assert site.status("ana.ribeiro@example.org", "weekly") == "unsubscribed"
    assert site.status("ana.ribeiro@example.org", "daily") == "active"


def test_a_post_without_the_one_click_body_changes_nothing(site: Site) -> None:
    url = f"{site.url}/unsubscribe/{site.token('dev.patel@example.org')}"
    assert web_client.post(url, data={"List-Unsubscribe": "Yes"}).status_code == 400
    assert web_client.post(url, content=b"").status_code == 400
    assert site.status("dev.patel@example.org") == "active"


def test_forged_and_altered_tokens_are_refused_and_change_nothing(site: Site) -> None:
    before = site.statuses()
    genuine = site.token("ben.carter@example.com")
    body, mac = genuine.split(".")
    someone_else = site.signer.sign(
        TokenClaims("weekly", site.sub_id("farid.haddad@example.org"), site.issue_id)
    ).split(".")[0]
    other_key = Signer(b"not-the-servers-key-0123456789abcdef").sign(
        TokenClaims("weekly", site.sub_id("ben.carter@example.com"), site.issue_id)
    )
    refused = {
        f"{body}.{mac[:-3]}AAA": 403,  # altered signature
        f"{someone_else}.{mac}": 403,  # another subscriber's claims under this signature
        other_key: 403,  # signed with another key
        "not-a-token": 400,
        "a.b": 400,
        f"{body}.{mac}.{mac}": 400,
    }
    for token, status in refused.items():
        for method in ("GET", "POST"):
            r = httpx.request(
                method,
                f"{site.url}/unsubscribe/{token}",
                data=ONE_CLICK,
                timeout=web_client.TIMEOUT,
            )
            assert r.status_code == status, (token, method, r.status_code)
            assert "not valid" in r.text
    assert site.statuses() == before
    assert site.suppression_rows() == []


def test_cross_list_tokens_are_refused(site: Site) -> None:
    before = site.statuses()
    zoe_daily = site.sub_id("zoe.park@example.org", "daily")
    ben_weekly = site.sub_id("ben.carter@example.com")
    tokens = [
        TokenClaims("weekly", zoe_daily, site.issue_id),  # a daily subscriber on weekly's name
        TokenClaims("daily", ben_weekly, site.daily_issue_id),  # a weekly subscriber on daily
        TokenClaims("daily", zoe_daily, site.issue_id),  # daily's subscriber, weekly's issue
        TokenClaims("monthly", ben_weekly, site.issue_id),  # a list that is not configured
        TokenClaims("weekly", ben_weekly, 9999),  # an issue that does not exist
        TokenClaims("weekly", 9999, site.issue_id),  # a subscriber that does not exist
    ]
    for claims in tokens:
        token = site.signer.sign(claims)
        r = web_client.post(f"{site.url}/unsubscribe/{token}", data=ONE_CLICK)
        assert r.status_code == 403, claims
        assert web_client.get(f"{site.url}/preferences/{token}").status_code == 403
    assert site.statuses() == before and site.suppression_rows() == []


def test_expired_tokens_are_refused(site: Site) -> None:
    token = site.token("ben.carter@example.com", issue_id=site.old_issue_id)
    r = web_client.post(f"{site.url}/unsubscribe/{token}", data=ONE_CLICK)
    assert r.status_code == 403 and "expired" in r.text
    assert site.status("ben.carter@example.com") == "active"


def test_oversized_form_bodies_are_refused(site: Site) -> None:
    url = f"{site.url}/unsubscribe/{site.token('ben.carter@example.com')}"
    big = b"List-Unsubscribe=One-Click&pad=" + b"x" * 100_000
    r = web_client.post(
        url, content=big, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert r.status_code == 413
    assert site.status("ben.carter@example.com") == "active"


def test_pages_are_uncached_unframed_and_script_free(site: Site) -> None:
    r = web_client.get(f"{site.url}/unsubscribe/{site.token('ben.carter@example.com')}")
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert "<script" not in r.text.lower()
    assert '<html lang="en">' in r.text and 'name="viewport"' in r.text
    css = web_client.get(f"{site.url}/assets/web.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_addresses_are_escaped(project: Path, live_server: Callable[[Any], str]) -> None:
    roster = project / "subscribers" / "weekly.csv"
    roster.write_text(
        roster.read_text(encoding="utf-8")
        + "tom&<i>@example.org,Tom,,active,,\ntom&jerry@example.org,Tom,,active,,\n",
        encoding="utf-8",
    )
    site = open_site(project, live_server)
    r = web_client.get(f"{site.url}/unsubscribe/{site.token('tom&jerry@example.org')}")
    assert r.status_code == 200
    assert "tom&amp;jerry@example.org" in r.text and "tom&jerry" not in r.text


def test_a_base_url_path_is_mounted_on_the_server(
    project: Path, live_server: Callable[[Any], str]
) -> None:
    site = open_site(project, live_server, base_url="https://example.org/news/digest")
    token = site.token("ben.carter@example.com")
    assert web_client.get(f"{site.url}/unsubscribe/{token}").status_code == 404
    page = web_client.get(f"{site.url}/news/digest/unsubscribe/{token}")
    assert page.status_code == 200 and 'href="/news/digest/assets/web.css"' in page.text
    r = web_client.post(f"{site.url}/news/digest/unsubscribe/{token}", data=ONE_CLICK)
    assert r.status_code == 200
    assert site.status("ben.carter@example.com") == "unsubscribed"
