"""Approval as editors live it: segments frozen as previewed, frozen issues refuse edits,
unapprove; the CLI in subprocesses and the desk through a real server, on one database."""

from __future__ import annotations

import email
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest

from digest.config.load import load_settings
from digest.pipeline import Pipeline
from digest.store import Store
from digest.store.desk import DeskRepo
from digest.tokens import Signer
from digest.web import create_app

from .cli_helpers import run_digest

ROOT = Path(__file__).resolve().parent.parent
JSON = {"accept": "application/json"}
SEGMENT_OF = {  # subscribers/weekly.csv: who follows which areas (Erin is unsubscribed)
    "ana.ribeiro@example.org": "all",
    "ben.carter@example.com": "international-politics+security",
    "chloe.martin@example.net": "all",
    "dev.patel@example.org": "climate-and-energy",
    "farid.haddad@example.org": "foreign-affairs+human-rights",
    "grace.lee@example.net": "all",
}
WHOLE = b"This week: 13 posts in 6 sections"


@pytest.fixture
def approval(project: Path) -> Path:
    """The sample project with ``approval = "required"`` on its list, and desk editors."""
    config = project / "config.toml"
    text = config.read_text(encoding="utf-8").replace(
        'timezone = "America/New_York"\n\n[taxonomy]',
        'timezone = "America/New_York"\napproval = "required"\n\n[taxonomy]',
    )
    config.write_text(text + '\n[desk]\neditors = ["ed@example.org"]\n', encoding="utf-8")
    return project


def digest(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_digest(project, *args)


def ok(project: Path, *args: str) -> str:
    done = digest(project, *args)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def outbox(project: Path) -> dict[str, bytes]:
    """Each delivered .eml's raw bytes, by the recipient's address."""
    found = {}
    for path in sorted((project / "outbox").rglob("*.eml")):
        raw = path.read_bytes()
        to = re.search(rb"^To: .*<([^>]+)>", raw, re.MULTILINE)
        assert to is not None, path
        found[to.group(1).decode()] = raw
    return found


def text_part(raw: bytes) -> str:
    message: Message = email.message_from_bytes(raw)
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode("utf-8")
    raise AssertionError("no text part")


def as_previewed(text: str, address: str, name: str) -> str:
    """A delivered text with the reader's own values put back as the desk's sample reader."""
    text = re.sub(r"https://digest\.example\.org/unsubscribe/\S+", "#unsubscribe-preview", text)
    text = re.sub(r"https://digest\.example\.org/preferences/\S+", "#preferences-preview", text)
    return text.replace(address, "reader@example.org").replace(name, "Sample Reader")


def this_week(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("This week:"))


@dataclass
class Desk:
    """The desk served over the project's database, on the same clock as the CLI."""

    url: str
    store: Store
    config: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url}/desk", timeout=120)

    def headers(self, client: httpx.Client) -> dict[str, str]:
        page = client.get("/lists/weekly")
        assert page.status_code == 200, page.text
        found = re.search(r'data-csrf="([^"]+)"', page.text)
        assert found
        return {**JSON, "x-csrf-token": found.group(1)}

    def post_id(self, title_part: str) -> int:
        pipeline = Pipeline(load_settings(self.config), self.store)
        return next(p.id for p in pipeline.candidates("weekly") if title_part in p.title)


@pytest.fixture
def desk(approval: Path, live_server: Callable[[Any], str]) -> Iterator[Desk]:
    ok(approval, "collect")
    settings = load_settings(approval / "config.toml")
    store = Store(settings.database.url)
    app = create_app(settings, store, signer=Signer(b"approval-flow-key-0123456789abcdef"))
    yield Desk(live_server(app), store, approval / "config.toml")
    store.close()


def test_approved_issue_reaches_each_reader_as_their_segment(approval: Path) -> None:
    """Issue 15.1: approval used to drop the segments, so everyone got the whole issue."""
    ok(approval, "collect")
    ok(approval, "build", "--list", "weekly", "--out", "preview")
    assert "held" in ok(approval, "run")
    assert outbox(approval) == {}
    ok(approval, "approve", "weekly")
    assert "sent: accepted 6" in ok(approval, "run")
    sent = outbox(approval)
    assert set(sent) == set(SEGMENT_OF)
    for address, key in SEGMENT_OF.items():
        previewed = (approval / "preview" / "segments" / key / "email.txt").read_text("utf-8")
        line = this_week(previewed).encode()
        assert line in sent[address], (address, line)  # the raw bytes the reader got
        if key != "all":
            assert WHOLE not in sent[address], address
            assert b"Your areas: " in sent[address]


def test_sent_issue_refuses_edits_and_posts_list_shows_the_next(project: Path) -> None:
    """Issue 15.2: after a send, ``posts exclude`` exited 0 and changed the sent issue."""
    ok(project, "collect")
    ok(project, "run")
    sent_posts = ok(project, "posts", "list", "--issue", "1", "--json")
    for args in (
        ("exclude", "1"),
        ("pin", "1"),
        ("set-summary", "1", "A summary written after the send."),
        ("set-area", "1", "Security"),
    ):
        refused = digest(project, "posts", *args)
        assert refused.returncode == 1, args
        assert "list weekly: issue 1 is sent: post 1 can no longer change" in refused.stderr
        assert "hint: a sent issue is final" in refused.stderr
    assert ok(project, "posts", "list", "--issue", "1", "--json") == sent_posts
    coming = ok(project, "posts", "list")
    assert "weekly: coming issue 2 (draft)" in coming and "Arctic" not in coming


def test_approved_issue_refuses_edits_with_the_way_back(approval: Path) -> None:
    """Issue 15.2: an approved issue is frozen too; the hint says how to unapprove."""
    ok(approval, "collect")
    ok(approval, "approve", "weekly")
    refused = digest(approval, "posts", "exclude", "1")
    assert refused.returncode == 1
    assert "list weekly: issue 1 is approved: post 1 can no longer change" in refused.stderr
    assert "hint: digest unapprove weekly, change it, then approve it again" in refused.stderr
    assert "weekly: coming issue 1 (approved)" in ok(approval, "posts", "list")


def test_unapprove_makes_the_issue_editable_again_and_is_recorded(approval: Path) -> None:
    """Issue 15.3: ``digest unapprove LIST``, logged with who and when."""
    ok(approval, "collect")
    nothing = digest(approval, "unapprove", "weekly")
    assert nothing.returncode == 1 and "list weekly: no issue is approved" in nothing.stderr
    ok(approval, "approve", "weekly")
    assert "issue 1 is a draft again" in ok(approval, "unapprove", "weekly")
    ok(approval, "posts", "exclude", "1")
    assert "held" in ok(approval, "run")
    ok(approval, "approve", "weekly")
    ok(approval, "run")
    assert all(b"Arctic Shipping" not in raw for raw in outbox(approval).values())
    late = digest(approval, "unapprove", "weekly")
    assert late.returncode == 1 and "issue 1 is sent; no issue is approved" in late.stderr
    coming = digest(approval, "approve", "weekly")  # the next one, which has no posts yet
    assert coming.returncode == 1 and "list weekly: issue 2 has no posts" in coming.stderr
    store = Store(load_settings(approval / "config.toml").database.url)
    logged = [(a.action, a.issue_number) for a in DeskRepo(store.engine).actions("weekly")]
    actors = {a.actor for a in DeskRepo(store.engine).actions("weekly")}
    store.close()
    assert logged == [("approve", 1), ("unapprove", 1), ("approve", 1)]  # newest first
    assert actors and "" not in actors


def test_unapprove_is_refused_once_sending_began(approval: Path) -> None:
    ok(approval, "collect")
    ok(approval, "approve", "weekly")
    pipeline = Pipeline(load_settings(approval / "config.toml"))
    pipeline.halt.set()  # stopped before its first message: the issue is sending
    assert pipeline.send("weekly").outcome == "incomplete"
    pipeline.close()
    refused = digest(approval, "unapprove", "weekly")
    assert refused.returncode == 1
    assert "list weekly: issue 1 is sending; it can no longer be unapproved" in refused.stderr
    assert outbox(approval) == {}


def test_desk_unapprove_button_and_frozen_post_controls(desk: Desk) -> None:
    post = desk.post_id("WTO")
    with desk.client() as client:
        headers = desk.headers(client)
        approved = client.post("/lists/weekly/approve", data={"confirm": "yes"}, headers=headers)
        assert approved.status_code == 200, approved.text
        page = client.get("/lists/weekly").text
        assert 'action="/desk/lists/weekly/unapprove"' in page
        frozen = client.post(f"/lists/weekly/posts/{post}", data={"action": "pin"}, headers=headers)
        assert frozen.status_code == 409
        assert "list weekly: issue 1 is approved" in frozen.json()["message"]
        back = client.post("/lists/weekly/unapprove", headers=headers)
        assert back.status_code == 200 and "draft again" in back.json()["message"]
        again = client.post("/lists/weekly/unapprove", headers=headers)
        assert again.status_code == 409 and "no issue is approved" in again.json()["message"]
        page = client.get("/lists/weekly").text
        assert "unapprove" not in page.split('id="posts-region"')[0].split("<legend>Approve")[1]
        assert "unapproved issue #1" in page
        pinned = client.post(f"/lists/weekly/posts/{post}", data={"action": "pin"}, headers=headers)
        assert pinned.status_code == 200, pinned.text


def test_unapprove_is_documented() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "| `digest unapprove LIST` |" in readme
    desk_doc = (ROOT / "docs" / "desk.md").read_text(encoding="utf-8")
    assert "**Unapprove**" in desk_doc and "digest unapprove LIST" in desk_doc
    config_doc = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    assert "`digest unapprove LIST`" in config_doc
