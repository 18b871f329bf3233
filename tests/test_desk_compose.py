"""The desk's subject and preheader, post order, segment tests and excluded posts, over HTTP.

What editors set is judged where readers see it: the raw bytes an SMTP server (aiosmtpd)
receives for an issue approved at the desk, or the outbox's ``.eml`` files of a test send.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from digest.store.desk import DeskRepo
from tests.delivery_helpers import SIGNING_KEY, use_backend
from tests.desk_setup import EDITORS, NOW, DeskSite, open_desk
from tests.test_smtp import Relay, free_port

JSON = {"accept": "application/json"}
SECURITY = "international-politics+security"
"""The segment of the sample roster's reader of International Politics and Security."""


@pytest.fixture
def site(project: Path, live_server: Callable[[Any], str]) -> DeskSite:
    return open_desk(project, live_server, test_domains=("example.net",))


@pytest.fixture
def smtp() -> Iterator[tuple[Relay, int]]:
    handler = Relay()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


def _headers(site: DeskSite, client: Any) -> dict[str, str]:
    return {**JSON, "x-csrf-token": site.csrf(client)}


def _parsed(raw: bytes) -> email.message.EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def _html(message: email.message.EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def test_subject_and_preheader_from_the_desk_to_the_raw_sent_bytes(
    project: Path,
    live_server: Callable[[Any], str],
    smtp: tuple[Relay, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    relay, port = smtp
    monkeypatch.setenv("DIGEST_SIGNING_KEY", SIGNING_KEY)
    use_backend(project, "smtp", host="127.0.0.1", port=port, security="none", timeout=5.0)
    site = open_desk(project, live_server)
    subject, preheader = "Editors' pick: the week in five minutes", "Read this before Monday"
    own = "Security readers: the week ahead"
    with site.client() as client:
        headers = _headers(site, client)
        page = client.get("/lists/weekly").text
        automatic = site.pipeline.build("weekly").email.subject
        assert f"<span>Automatic:</span> {automatic}".replace("'", "&#39;") in page
        issue = client.post(
            "/lists/weekly/headline",
            data={"segment": "", "subject": subject, "preheader": f"  {preheader} "},
            headers=headers,
        )
        assert issue.status_code == 200, issue.text
        mine = client.post(
            "/lists/weekly/headline",
            data={"segment": SECURITY, "subject": own, "preheader": ""},
            headers=headers,
        )
        assert mine.status_code == 200, mine.text
        page = client.get("/lists/weekly", params={"segment": SECURITY}).text
        approved = client.post("/lists/weekly/approve", data={"confirm": "yes"}, headers=headers)
        assert approved.status_code == 200, approved.text
        late = client.post(
            "/lists/weekly/headline",
            data={"segment": "", "subject": "Too late", "preheader": ""},
            headers=headers,
        )
    assert f'<dd id="subject">{own}</dd>' in page and "Set by " in page
    assert late.status_code == 409 and "approved" in late.json()["message"]
    stored = site.pipeline.build("weekly").stored
    assert stored is not None and stored.email.subject == subject  # the frozen issue has it
    saved = site.store.headlines.changed("weekly", stored.window.start)
    assert saved[""][1] == NOW and saved[""][0]  # who and when
    report = site.pipeline.send("weekly")
    assert report.outcome == "sent", report
    raw = dict(relay.messages)
    everyone = _parsed(raw["ana.ribeiro@example.org"])
    security = _parsed(raw["ben.carter@example.com"])
    assert everyone["Subject"] == subject
    assert preheader in _html(everyone) and f"<title>{subject}".replace("'", "&#39;") in _html(
        everyone
    )
    assert security["Subject"] == own
    assert preheader in _html(security)  # the segment kept the issue's preheader


def test_subject_is_one_bounded_line_and_escaped(site: DeskSite) -> None:
    hostile = "<script>alert(1)</script>\r\nBcc: victim@example.com\x00"
    with site.client() as client:
        headers = _headers(site, client)
        long = client.post("/lists/weekly/headline", data={"subject": "x" * 201}, headers=headers)
        huge = client.post(
            "/lists/weekly/headline", data={"preheader": "y" * 5000}, headers=headers
        )
        ok = client.post(
            "/lists/weekly/headline", data={"segment": "", "subject": hostile}, headers=headers
        )
        unknown = client.post(
            "/lists/weekly/headline", data={"segment": "nope", "subject": "x"}, headers=headers
        )
        page = client.get("/lists/weekly").text
        preview = client.get("/lists/weekly/preview").text
        sent = client.post("/lists/weekly/test", data={"to": EDITORS[0]}, headers=headers)
    assert long.status_code == 400 and "200 characters" in long.json()["message"]
    assert huge.status_code == 400 and unknown.status_code == 404
    assert ok.status_code == 200
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in preview
    assert sent.status_code == 200, sent.text
    (message,) = site.outbox()
    assert message["Bcc"] is None
    assert message["Subject"] == "[TEST] <script>alert(1)</script> Bcc: victim@example.com"


def test_reset_brings_back_the_automatic_subject(site: DeskSite) -> None:
    automatic = site.pipeline.build("weekly").email.subject
    with site.client() as client:
        headers = _headers(site, client)
        client.post("/lists/weekly/headline", data={"subject": "Mine"}, headers=headers)
        assert site.pipeline.build("weekly").email.subject == "Mine"
        reset = client.post("/lists/weekly/headline", data={"action": "reset"}, headers=headers)
    assert reset.status_code == 200 and "automatic" in reset.json()["message"]
    assert site.pipeline.build("weekly").email.subject == automatic


def test_move_a_post_within_its_section_and_the_email_follows(site: DeskSite) -> None:
    built = site.pipeline.build("weekly")
    section = next(s for s in built.digest.sections if len(s.posts) >= 3)
    first, second = section.posts[0], section.posts[1]
    assert not first.pinned and not second.pinned
    with site.client() as client:
        headers = _headers(site, client)
        up = client.post(
            f"/lists/weekly/posts/{first.id}", data={"action": "move-up"}, headers=headers
        )
        down = client.post(
            f"/lists/weekly/posts/{first.id}", data={"action": "move-down"}, headers=headers
        )
        text = " ".join(client.get("/lists/weekly/preview", params={"format": "text"}).text.split())
        page = client.get("/lists/weekly").text
    assert up.status_code == 409 and "already first" in up.json()["message"]
    assert down.status_code == 200 and f"now 2 of {len(section.posts)}" in down.json()["message"]
    after = next(s for s in site.pipeline.build("weekly").digest.sections if s.area == section.area)
    assert [p.id for p in after.posts[:2]] == [second.id, first.id]
    assert text.index(second.title) < text.index(first.title)
    assert page.index(f'id="post-{second.id}"') < page.index(f'id="post-{first.id}"')
    (action, _, actor, at) = site.store.posts.edits(first.id)[-1]
    assert (action, at) == ("move-down", NOW) and actor


def test_posts_are_listed_in_the_order_the_email_shows_them(site: DeskSite) -> None:
    excluded = site.post_id("WTO")
    with site.client() as client:
        headers = _headers(site, client)
        client.post(f"/lists/weekly/posts/{excluded}", data={"action": "exclude"}, headers=headers)
        page = client.get("/lists/weekly").text
    shown = [int(i) for i in re.findall(r'<li id="post-(\d+)"', page)]
    email_order = [p.id for p in site.pipeline.build("weekly").digest.posts]
    assert shown == [*email_order, excluded]


def test_excluded_posts_cannot_be_pinned_or_moved(site: DeskSite) -> None:
    post = site.post_id("WTO")
    url = f"/lists/weekly/posts/{post}"
    with site.client() as client:
        headers = _headers(site, client)
        assert client.post(url, data={"action": "exclude"}, headers=headers).status_code == 200
        answers = [
            client.post(url, data=data, headers=headers)
            for data in (
                {"action": "pin"},
                {"action": "set-area", "area": "Human Rights"},
                {"action": "move-up"},
                {"action": "move-down"},
            )
        ]
        page = client.get("/lists/weekly").text
    assert [a.status_code for a in answers] == [409] * 4
    assert "include it before pinning" in answers[0].json()["message"]
    stored = site.store.posts.get(post)
    assert (stored.pinned, stored.area_override, stored.rank) == (False, None, None)
    card = page.split(f'id="post-{post}"', 1)[1].split("</li>", 1)[0]
    for button in ("pin", "area", "up", "down"):
        assert f'id="b-{post}-{button}" disabled' in card, button
    assert f'id="b-{post}-in"' in card and f'id="b-{post}-in" disabled' not in card


def test_send_test_sends_the_segment_on_screen_and_says_which(site: DeskSite) -> None:
    with site.client() as client:
        headers = _headers(site, client)
        answer = client.post(
            "/lists/weekly/test", data={"to": EDITORS[0], "segment": SECURITY}, headers=headers
        )
    assert answer.status_code == 200, answer.text
    label = "Only International Politics + Security"
    assert f"as “{label}”" in answer.json()["message"]
    (message,) = site.outbox()
    built = site.pipeline.build("weekly")
    plain = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    text = plain.get_payload(decode=True).decode()
    assert "Also this week" in text and "Also this week" not in built.email.text
    subject = " ".join(str(message["Subject"]).split())  # unfolded
    assert subject == f"[TEST] {built.segment(SECURITY).email.subject}"
    (logged,) = DeskRepo(site.store.engine).actions("weekly")
    assert label in logged.detail


def test_send_test_to_a_typed_address_only_in_an_allowed_domain(site: DeskSite) -> None:
    with site.client() as client:
        headers = _headers(site, client)
        refused = client.post(
            "/lists/weekly/test", data={"other": "someone@elsewhere.org"}, headers=headers
        )
        sub = client.post(
            "/lists/weekly/test", data={"other": "a@mail.example.net"}, headers=headers
        )
        bad = client.post("/lists/weekly/test", data={"other": "not an address"}, headers=headers)
        page = client.get("/lists/weekly").text
        allowed = client.post(
            "/lists/weekly/test", data={"other": "Reviewer@Example.NET"}, headers=headers
        )
    assert refused.status_code == 400
    assert "elsewhere.org" in refused.json()["message"]
    assert "[desk] test_domains" in refused.json()["message"]
    assert sub.status_code == 400 and bad.status_code == 400
    assert 'name="other"' in page and "(at example.net)" in page
    assert allowed.status_code == 200, allowed.text
    assert [m["To"] for m in site.outbox()] == ["Reviewer@example.net"]


def test_unapprove_at_the_desk_is_recorded_with_who_and_when(site: DeskSite) -> None:
    with site.client() as client:
        headers = _headers(site, client)
        client.post("/lists/weekly/approve", data={"confirm": "yes"}, headers=headers)
        assert "Unapprove issue #1" in client.get("/lists/weekly").text
        answer = client.post("/lists/weekly/unapprove", headers=headers)
        page = client.get("/lists/weekly").text
    assert answer.status_code == 200 and "draft again" in answer.json()["message"]
    unapproved, approved = DeskRepo(site.store.engine).actions("weekly")
    assert (unapproved.action, unapproved.at, approved.action) == ("unapprove", NOW, "approve")
    assert unapproved.actor and unapproved.actor != "anonymous"
    assert f"<strong>{unapproved.actor}</strong> unapproved issue #1" in page
    assert site.pipeline.build("weekly").stored is None
