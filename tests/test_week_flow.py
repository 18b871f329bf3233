"""One realistic week with approval on, as editors, ops and readers live it (issue 15, "Done
when"): the real CLI in subprocesses, a real ``digest serve`` (desk with its login and CSRF,
archive, unsubscribe), and mail judged by the bytes a real SMTP server received."""

from __future__ import annotations

import html
import json
import re
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from .cli_helpers import cli_env, run_digest, serving
from .conftest import needs_shared
from .delivery_helpers import SIGNING_KEY, use_backend
from .desk_setup import TOKEN
from .email_helpers import html_part
from .test_approval_flow import SEGMENT_OF, approval, as_previewed  # noqa: F401
from .test_smtp import Relay, relay  # noqa: F401  (approval and relay are fixtures)

ENV = cli_env(DIGEST_SIGNING_KEY=SIGNING_KEY, DIGEST_DESK_TOKEN=TOKEN)
NAMES = {
    "ana.ribeiro@example.org": "Ana Ribeiro",
    "ben.carter@example.com": "Ben Carter",
    "chloe.martin@example.net": "Chloé Martin",
    "dev.patel@example.org": "Dev Patel",
    "farid.haddad@example.org": "Farid Haddad",
    "grace.lee@example.net": "Grace Lee",
}
SUMMARY = "An editor's summary of the WTO piece, written on the desk."
SECOND_WEEK_POST = """---
title: Grid Operators Agree on a Shared Plan for Storage
author: Maya Okafor
areas:
  - Climate & Energy
url: https://blogs.example.org/2026/12/grid-storage-plan/
---

Grid operators from three neighbouring countries agreed on a joint plan for battery and
pumped-hydro storage. The plan sets regional targets for the next decade and a common way to
pay for capacity that sits idle most of the year. Regulators will meet each quarter to review it.
"""


def ok(project: Path, *args: str) -> str:
    done = run_digest(project, *args, env=ENV)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def refused(project: Path, *args: str) -> str:
    done = run_digest(project, *args, env=ENV)
    assert done.returncode == 1, (args, done.stdout, done.stderr)
    return done.stderr


def by_recipient(messages: list[tuple[str, bytes]]) -> dict[str, bytes]:
    """Messages as the SMTP server took them, by recipient; nobody got two."""
    found: dict[str, bytes] = {}
    for rcpt, raw in messages:
        assert rcpt not in found, rcpt
        found[rcpt] = raw
    return found


def text_body(raw: bytes) -> str:
    part = message_from_bytes(raw, policy=policy.default).get_body(("plain",))
    assert part is not None
    text: str = part.get_content()
    return text


def link(raw: bytes, label: str) -> str:
    """The href of the HTML part's link called ``label``, as the reader's client opens it."""
    (found,) = {
        html.unescape(m) for m in re.findall(rf'<a href="([^"]+)"[^>]*>{label}</a>', html_part(raw))
    }
    return found


def login(desk: httpx.Client, name: str) -> dict[str, str]:
    """Log in to the desk with the token; returns the headers of an editor's action."""
    page = desk.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf, page.text
    answer = desk.post("/login", data={"csrf": csrf.group(1), "name": name, "token": TOKEN})
    assert answer.status_code == 303, answer.text
    page = desk.get("/lists/weekly")
    assert page.status_code == 200 and name in page.text
    found = re.search(r'data-csrf="([^"]+)"', page.text)
    assert found
    return {"accept": "application/json", "x-csrf-token": found.group(1)}


def test_a_week_with_approval_on_from_collect_to_unsubscribe(
    approval: Path,  # noqa: F811
    relay: tuple[Relay, int],  # noqa: F811
) -> None:
    """Collect, build, edit on the desk, approve, unapprove, edit, approve, run; the sent issue
    refuses edits; ``runs`` records the run; "View in browser" from a delivered message opens
    this issue on ``digest serve``; two readers unsubscribe from their messages (one-click and
    the footer's page) and the next run does not mail them."""
    needs_shared()  # counts on the sample post from ../shared
    project, (server, port) = approval, relay
    use_backend(project, "smtp", host="127.0.0.1", port=port, security="none", timeout=120.0)
    ok(project, "collect")
    built = json.loads(ok(project, "build", "--list", "weekly", "--json"))
    assert (built["list"], built["issue"], built["status"]) == ("weekly", 1, "draft")
    posts = json.loads(ok(project, "posts", "list", "--json"))
    assert len(posts) == 13
    wto, arctic = (next(p["id"] for p in posts if part in p["title"]) for part in ("WTO", "Arctic"))
    with (
        serving(project, ENV) as origin,
        httpx.Client(base_url=origin, timeout=120) as web,
        httpx.Client(base_url=f"{origin}/desk", timeout=120) as desk,
    ):
        headers = login(desk, "Rosa Editor")

        def act(post: int, action: str, **extra: str) -> httpx.Response:
            data = {"action": action, **extra}
            return desk.post(f"/lists/weekly/posts/{post}", data=data, headers=headers)

        assert act(wto, "exclude").status_code == 200
        assert act(wto, "set-summary", summary=SUMMARY).status_code == 200
        approve = desk.post("/lists/weekly/approve", data={"confirm": "yes"}, headers=headers)
        assert approve.status_code == 200, approve.text
        frozen = act(arctic, "exclude")
        assert frozen.status_code == 409
        assert "list weekly: issue 1 is approved" in frozen.json()["message"]
        assert "digest unapprove weekly" in refused(project, "posts", "exclude", str(arctic))
        back = desk.post("/lists/weekly/unapprove", headers=headers)
        assert back.status_code == 200 and "draft again" in back.json()["message"]
        assert act(wto, "include").status_code == 200
        assert act(arctic, "exclude").status_code == 200
        assert "issue 1 approved" in ok(project, "approve", "weekly")
        previews = {
            key: desk.get("/lists/weekly/preview", params={"format": "text", "segment": key}).text
            for key in set(SEGMENT_OF.values())
        }
        assert server.messages == []  # nothing leaves before the run

        assert "sent: accepted 6" in ok(project, "run")
        first = by_recipient(server.messages)
        assert set(first) == set(SEGMENT_OF)  # Erin is unsubscribed in the roster
        for address, raw in first.items():
            key = SEGMENT_OF[address]
            got = as_previewed(text_body(raw), address, NAMES[address])
            assert got.replace("\r\n", "\n").strip() == previews[key].strip(), address
            assert "Arctic Shipping" not in got  # excluded after the unapproval
            assert (SUMMARY in got) == (key == "all")
            assert ("Your areas: " in got) == (key != "all")

        # The sent issue is final everywhere, and says which list and issue.
        late = act(wto, "pin")
        assert late.status_code == 409
        assert "list weekly: issue 1 is sent" in late.json()["message"]
        assert "list weekly: issue 1 is sent" in refused(project, "posts", "pin", str(wto))
        page = desk.get("/lists/weekly").text
        assert re.findall(r"</strong> (\w+) issue #1 ", page) == [
            "approved",
            "unapproved",
            "approved",
        ]  # newest first, each with who and when
        assert "Rosa Editor</strong> unapproved issue #1" in page

        # ops: the run is in the history, with its trigger, counts and destination
        (run,) = json.loads(ok(project, "runs", "--json"))
        assert (run["trigger"], run["outcome"], run["issue"]) == ("run", "sent", 1)
        assert run["counts"] == {"accepted": 6}
        assert f"127.0.0.1:{port}" in run["destination"]

        # a reader opens "View in browser" from the message they got
        ben, grace = first["ben.carter@example.com"], first["grace.lee@example.net"]
        view = link(ben, "View in browser")
        assert view == "https://digest.example.org/archive/weekly/1.html"
        archived = web.get(urlsplit(view).path)
        assert archived.status_code == 200 and "text/html" in archived.headers["content-type"]
        shown = html.unescape(archived.text)
        assert "Issue 1" in shown and SUMMARY in shown and "Arctic Shipping" not in shown

        # Ben's mail provider sends the one-click POST of his List-Unsubscribe header
        headers_of_ben = message_from_bytes(ben, policy=policy.default)
        assert headers_of_ben["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        one_click = re.search(r"<(https://[^>]+)>", headers_of_ben["List-Unsubscribe"])
        assert one_click
        gone = web.post(
            urlsplit(one_click.group(1)).path,
            content=b"List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert gone.status_code == 200 and "You are unsubscribed" in gone.text
        # Grace follows her footer's Unsubscribe link and presses the page's button
        footer = urlsplit(link(grace, "Unsubscribe")).path
        confirm = web.get(footer)
        assert confirm.status_code == 200 and '<form method="post">' in confirm.text
        fields = dict(
            re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', confirm.text)
        )
        assert fields.get("List-Unsubscribe") == "One-Click"
        pressed = web.post(footer, data=fields, headers={"origin": origin})
        assert pressed.status_code == 200 and "You are unsubscribed" in pressed.text

    suppressed = json.loads(ok(project, "suppressions", "list", "--json"))
    assert {(s["email"], s["reason"], s["detail"], s["origin"]) for s in suppressed} == {
        ("ben.carter@example.com", "unsubscribed", "one-click", "web"),
        ("grace.lee@example.net", "unsubscribed", "confirm page", "web"),
    }

    # the next week: one new post, approved, run; the two who left get nothing
    (project / "posts" / "grid-storage-plan.md").write_text(SECOND_WEEK_POST, encoding="utf-8")
    ok(project, "collect")
    coming = json.loads(ok(project, "posts", "list", "--json"))
    assert [p["title"] for p in coming] == ["Grid Operators Agree on a Shared Plan for Storage"]
    assert "issue 2 approved" in ok(project, "approve", "weekly")
    next_week = datetime.fromisoformat(run["period"]["end"]) + timedelta(days=2)
    second = ok(project, "schedule", "run-now", "weekly", "--for", next_week.date().isoformat())
    assert "issue 2: accepted 4" in second, second
    again = by_recipient(server.messages[len(first) :])
    assert set(again) == set(SEGMENT_OF) - {"ben.carter@example.com", "grace.lee@example.net"}
    assert all(b"Policy Blogs Weekly #2" in raw for raw in again.values())
    newest = json.loads(ok(project, "runs", "--json"))[0]
    assert (newest["trigger"], newest["issue"], newest["counts"]) == ("run-now", 2, {"accepted": 4})
