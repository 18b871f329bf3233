"""The editors' desk over HTTP: pages, previews, post and issue actions, CSRF, the action log."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from digest.store.desk import DeskRepo
from digest.store.schema import post_edits
from tests.desk_setup import EDITORS, NOW, DeskSite, open_desk

JSON = {"accept": "application/json"}


@pytest.fixture
def site(project: Path, live_server: Callable[[Any], str]) -> DeskSite:
    return open_desk(project, live_server)


def test_overview_shows_each_lists_coming_issue(site: DeskSite) -> None:
    with site.client() as client:
        page = client.get("/")
    assert page.status_code == 200
    built = site.pipeline.build("weekly")
    assert f"Issue #{built.digest.number}" in page.text
    assert "draft" in page.text
    assert 'href="/desk/lists/weekly"' in page.text


def test_list_page_shows_window_counts_previews_and_posts(site: DeskSite) -> None:
    with site.client() as client:
        page = client.get("/lists/weekly")
    assert page.status_code == 200
    text = page.text
    built = site.pipeline.build("weekly")
    assert "(America/New_York)" in text
    assert re.search(rf"<dt>Posts</dt><dd>\s*{len(built.digest.posts)}", text)
    active = site.store.subscribers.count_active(built.list_id)
    assert re.search(rf"<dt>Subscribers</dt><dd>{active}</dd>", text)
    frames = re.findall(r"<iframe ([^>]*)>", text)
    assert len(frames) == 2
    assert all('sandbox=""' in f and "allow-scripts" not in f for f in frames)
    assert 'width="800"' in frames[0] and 'width="375"' in frames[1]
    assert built.email.subject.replace("'", "&#39;") in text
    for post in site.pipeline.candidates("weekly"):
        assert f'id="post-{post.id}"' in text
    assert "<script" not in text.split("</head>", 1)[1]  # no inline script in the page body


def test_page_headers_forbid_framing_and_inline_script(site: DeskSite) -> None:
    with site.client() as client:
        page = client.get("/lists/weekly")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY"
    cookie = page.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/desk" in cookie


def test_preview_is_sandboxed_by_header_too(site: DeskSite) -> None:
    with site.client() as client:
        preview = client.get("/lists/weekly/preview")
        text = client.get("/lists/weekly/preview", params={"format": "text"})
    assert preview.status_code == 200
    csp = preview.headers["content-security-policy"]
    assert "sandbox" in csp and "script-src" not in csp and "default-src 'none'" in csp
    assert "frame-ancestors 'self'" in csp and preview.headers["x-frame-options"] == "SAMEORIGIN"
    assert "-unsubscribe_url-" not in preview.text and "#unsubscribe-preview" in preview.text
    assert text.headers["content-type"].startswith("text/plain")
    lead = site.pipeline.build("weekly").digest.posts[0]
    assert lead.url and lead.url in text.text


def test_segment_preview_shows_only_that_areas_sections(site: DeskSite) -> None:
    with site.client() as client:
        everyone = client.get("/lists/weekly/preview", params={"format": "text"}).text
        security = client.get(
            "/lists/weekly/preview", params={"format": "text", "segment": "security"}
        ).text
        missing = client.get("/lists/weekly/preview", params={"segment": "no-such-area"})
    assert "SECURITY" in everyone.upper() and "HUMAN RIGHTS" in everyone.upper()
    assert security != everyone
    assert missing.status_code == 404


def test_gets_change_nothing(site: DeskSite) -> None:
    before = site.dump()
    with site.client() as client:
        client.get("/lists/weekly")  # the session cookie
        for path in (
            "/",
            "/lists/weekly",
            "/lists/weekly/live",
            "/lists/weekly/preview",
            "/lists/weekly/preview?segment=security",
            "/lists/weekly/preview?format=text",
            "/login",
        ):
            assert client.get(path).status_code in (200, 303), path
        for path in ("/lists/weekly/approve", "/lists/weekly/test", "/logout"):
            assert client.get(path).status_code == 405, path
    assert site.dump() == before


def test_post_actions_need_the_csrf_token(site: DeskSite) -> None:
    post = site.post_id("WTO")
    with site.client() as client:
        token = site.csrf(client)
        for headers, data in (
            (JSON, {"action": "exclude"}),
            (JSON, {"action": "exclude", "csrf": "forged"}),
            ({**JSON, "origin": "https://evil.example"}, {"action": "exclude", "csrf": token}),
            ({**JSON, "sec-fetch-site": "cross-site"}, {"action": "exclude", "csrf": token}),
        ):
            answer = client.post(f"/lists/weekly/posts/{post}", data=data, headers=headers)
            assert answer.status_code == 403
    with site.client() as other:  # another browser's session: its own token only
        site.csrf(other)
        answer = other.post(
            f"/lists/weekly/posts/{post}", data={"action": "exclude", "csrf": token}, headers=JSON
        )
        assert answer.status_code == 403
    assert not site.store.posts.get(post).excluded
    assert site.store.posts.edits(post) == []


def test_summary_edit_reaches_the_preview_and_is_logged(site: DeskSite) -> None:
    post = site.post_id("WTO")
    with site.client() as client:
        token = site.csrf(client)
        answer = client.post(
            f"/lists/weekly/posts/{post}",
            data={"action": "set-summary", "summary": "  An editor's   better summary. "},
            headers={**JSON, "x-csrf-token": token},
        )
        assert answer.status_code == 200 and answer.json()["ok"]
        preview = client.get("/lists/weekly/preview").text
        page = client.get("/lists/weekly").text
    assert "An editor&#39;s better summary." in preview or "An editor's better summary." in preview
    automatic = site.pipeline.builder.summarizer.summarize(
        site.store.posts.get(post).text, site.store.posts.get(post).title
    )
    assert automatic.split(".")[0].replace("'", "&#39;") in page  # shown beside the edit
    (action, value, actor, at) = site.store.posts.edits(post)[-1]
    assert (action, value, at) == ("set-summary", "An editor's better summary.", NOW)
    assert actor


def test_exclude_include_pin_and_move(site: DeskSite) -> None:
    post = site.post_id("WTO")
    link = site.store.posts.get(post).url
    assert link
    url = f"/lists/weekly/posts/{post}"
    with site.client() as client:
        headers = {**JSON, "x-csrf-token": site.csrf(client)}
        assert link in client.get("/lists/weekly/preview", params={"format": "text"}).text
        assert client.post(url, data={"action": "exclude"}, headers=headers).status_code == 200
        assert link not in client.get("/lists/weekly/preview", params={"format": "text"}).text
        assert client.post(url, data={"action": "include"}, headers=headers).status_code == 200
        assert client.post(url, data={"action": "pin"}, headers=headers).status_code == 200
        moved = client.post(
            url, data={"action": "set-area", "area": "human rights"}, headers=headers
        )
        assert moved.status_code == 200
        bad = client.post(url, data={"action": "drop-table"}, headers=headers)
        assert bad.status_code == 400
        empty = client.post(url, data={"action": "set-summary", "summary": " "}, headers=headers)
        assert empty.status_code == 400
    stored = site.store.posts.get(post)
    assert (stored.excluded, stored.pinned, stored.area_override) == (False, True, "Human Rights")
    built = site.pipeline.build("weekly")
    section = next(s for s in built.digest.sections if any(p.id == post for p in s.posts))
    assert section.area == "Human Rights" and section.posts[0].id == post
    actions = [e[0] for e in site.store.posts.edits(post)]
    assert actions == ["exclude", "include", "pin", "set-area"]


def test_a_plain_form_post_redirects_back_to_the_page(site: DeskSite) -> None:
    post = site.post_id("WTO")
    with site.client() as client:
        token = site.csrf(client)
        answer = client.post(f"/lists/weekly/posts/{post}", data={"action": "pin", "csrf": token})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/desk/lists/weekly?notice=saved#post-{post}"


def test_only_posts_of_the_coming_issue_can_be_edited(site: DeskSite) -> None:
    with site.client() as client:
        headers = {**JSON, "x-csrf-token": site.csrf(client)}
        answer = client.post("/lists/weekly/posts/99999", data={"action": "pin"}, headers=headers)
        unknown_list = client.post("/lists/nope/posts/1", data={"action": "pin"}, headers=headers)
    assert answer.status_code == 404 and unknown_list.status_code == 404


def test_send_test_goes_to_chosen_editor_addresses_only(site: DeskSite) -> None:
    with site.client() as client:
        headers = {**JSON, "x-csrf-token": site.csrf(client)}
        none = client.post(
            "/lists/weekly/test", data={"to": "stranger@example.com"}, headers=headers
        )
        assert none.status_code == 400
        answer = client.post(
            "/lists/weekly/test",
            data={"to": [EDITORS[0], "stranger@example.com"]},
            headers=headers,
        )
        assert answer.status_code == 200, answer.text
    messages = site.outbox()
    assert [m["To"] for m in messages] == [EDITORS[0]]
    assert messages[0]["Subject"].startswith("[TEST] ")
    (path,) = (site.project / "outbox").rglob("*.eml")  # apart from any issue's own folder
    assert path.parent.parent == site.project / "outbox" / "weekly" / "tests"
    assert site.store.issues.latest(site.pipeline.build("weekly").list_id) is None  # no ledger
    (logged,) = DeskRepo(site.store.engine).actions("weekly")
    assert (logged.action, logged.at) == ("test-send", NOW)
    assert EDITORS[0] in logged.detail and "stranger" not in logged.detail


def test_approve_needs_the_confirm_box_and_is_logged(site: DeskSite) -> None:
    with site.client() as client:
        headers = {**JSON, "x-csrf-token": site.csrf(client)}
        assert client.post("/lists/weekly/approve", headers=headers).status_code == 400
        answer = client.post("/lists/weekly/approve", data={"confirm": "yes"}, headers=headers)
        assert answer.status_code == 200, answer.text
        page = client.get("/lists/weekly").text
        again = client.post("/lists/weekly/approve", data={"confirm": "yes"}, headers=headers)
        assert again.status_code == 409 and "already approved" in again.json()["message"]
    assert "is <strong>approved</strong>" in page
    stored = site.pipeline.build("weekly").stored
    assert stored is not None and stored.status == "approved"
    (logged,) = DeskRepo(site.store.engine).actions("weekly")
    assert (logged.action, logged.issue_number) == ("approve", 1)


def test_archive_lists_past_issues_with_their_delivery_report(site: DeskSite) -> None:
    report = site.pipeline.send("weekly")
    assert report.outcome == "sent"
    with site.client() as client:
        page = client.get("/lists/weekly").text
        frozen = client.get("/lists/weekly/issues/1")
        missing = client.get("/lists/weekly/issues/42")
    archive = page.split('id="archive-region"', 1)[1]
    assert "#1" in archive and "https://digest.example.org/archive/weekly/1.html" in archive
    accepted = report.counts["accepted"]
    assert re.search(rf'<td class="num">{accepted}</td>', archive)
    assert frozen.status_code == 200 and "sandbox" in frozen.headers["content-security-policy"]
    assert missing.status_code == 404


def test_edits_are_refused_once_the_issue_is_frozen(site: DeskSite) -> None:
    post = site.post_id("WTO")
    site.pipeline.send("weekly")
    with site.client() as client:
        headers = {**JSON, "x-csrf-token": site.csrf(client)}
        answer = client.post(f"/lists/weekly/posts/{post}", data={"action": "pin"}, headers=headers)
    assert answer.status_code in (404, 409)
    with site.store.engine.connect() as conn:
        assert conn.execute(select(post_edits)).all() == []


def test_an_issue_with_every_post_excluded_cannot_be_approved(site: DeskSite) -> None:
    for post in site.pipeline.build("weekly").digest.posts:
        site.store.posts.edit(post.id, "exclude", None, "editor", NOW)
    with site.client() as client:
        headers = {**JSON, "x-csrf-token": site.csrf(client)}
        answer = client.post("/lists/weekly/approve", data={"confirm": "yes"}, headers=headers)
    assert answer.status_code == 409
    assert "issue 1 has no posts to send" in answer.json()["message"]
    assert site.pipeline.build("weekly").stored is None
    assert DeskRepo(site.store.engine).actions("weekly") == []
