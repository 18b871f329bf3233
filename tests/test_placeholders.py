"""Content can never be filled with a reader's data (issue 14.2), and the headers go out raw.

A hostile post spells every placeholder, in every spelling a backend has used, in its link,
title, summary, author and area, and an editor's summary does the same. The issue is sent over
SMTP (a real aiosmtpd), to the outbox and to SendGrid (the local fake); every message must show
that text as written, and the reader's address, name and links exactly where the template puts
them. The reader's name holds HTML, so it must arrive escaped in the HTML part.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from digest.config.load import load_settings
from digest.pipeline import Pipeline

from .conftest import ROOT, SHARED
from .delivery_helpers import API_KEY, SIGNING_KEY, use_backend
from .fake_sendgrid import FakeSendGrid
from .test_smtp import READY, Relay, free_port

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
FIELDS = ("email", "email_html", "name", "name_html", "unsubscribe_url", "preferences_url")
PARTS = ("html", "text", "header")
SPELLINGS = [f"-{f}-" for f in FIELDS] + [f"-{f}.{p}-" for f in FIELDS for p in PARTS]
"""Every token spelling digest has used: bare, and SendGrid's per-part ones."""
CONTENT_FIELDS = ("link", "title", "summary", "author", "area", "editor")
TAG = {"link": "l", "title": "t", "summary": "b", "author": "a", "area": "s", "editor": "e"}
READER = "zoe.reader@example.org"
NAME = "Zoe <b>Bold</b> & Co"
KEYED = re.compile(r"-[a-z_]+\.[0-9a-f]{24}(?:\.[a-z]+)?-")
"""A keyed token, as the templates put them (none may be left in anything a reader sees)."""


def marked(field: str) -> str:
    """The field's hostile text: each spelling after a mark naming field and spelling."""
    return " ".join(f"{TAG[field]}{i}{s}" for i, s in enumerate(SPELLINGS))


def hostile_post() -> str:
    query = "&".join(f"l{i}={s}" for i, s in enumerate(SPELLINGS))
    return (
        f'---\ntitle: "Evil {marked("title")}"\nauthor: "Eve {marked("author")}"\n'
        f'areas:\n  - "{marked("area")}"\n  - Security\nurl: "https://evil.example/c?{query}"\n'
        f"---\n\nBody {marked('summary')} of the post.\n"
    )


def make_project(root: Path) -> Path:
    for name in ("templates", "posts"):
        shutil.copytree(ROOT / name, root / name)
    (root / "subscribers").mkdir()
    (root / "subscribers" / "weekly.csv").write_text(
        f"email,name,areas,status,subscribed_at,source\n{READER},{NAME},,active,2026-01-01,test\n"
    )
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    text = text.replace('path = "../shared/samples"', f'path = "{SHARED / "samples"}"')
    # the operator may put the reader's name in the subject: a header there, HTML in <title>
    text = re.sub(r"^subject = .*$", 'subject = "Hi {{ recipient.name }}: #{{ issue.number }}"',
                  text, count=1, flags=re.M)  # fmt: skip
    (root / "config.toml").write_text(text, encoding="utf-8")
    (root / "posts" / "evil.md").write_text(hostile_post(), encoding="utf-8")
    return root


def collected(config: Path) -> Pipeline:
    pipeline = Pipeline(load_settings(config), clock=lambda: NOW)
    pipeline.collect()
    editor = next(p for p in pipeline.candidates("weekly") if not p.title.startswith("Evil"))
    pipeline.store.posts.edit(editor.id, "set-summary", f"Ed {marked('editor')}", "ed", NOW)
    return pipeline


@dataclass
class Delivered:
    smtp: bytes
    eml: bytes
    sendgrid: dict[str, object]
    archive: str


@pytest.fixture(scope="module")
def delivered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Delivered]:
    mp = pytest.MonkeyPatch()
    mp.setenv("DIGEST_SIGNING_KEY", SIGNING_KEY)
    mp.setenv("SENDGRID_API_KEY", API_KEY)
    mp.delenv("SMTP_USERNAME", raising=False)
    relay = Relay()
    controller = Controller(relay, hostname="127.0.0.1", port=free_port(), ready_timeout=READY)
    controller.start()
    try:
        outbox = make_project(tmp_path_factory.mktemp("outbox"))
        collected(outbox / "config.toml").send("weekly")
        (eml,) = (outbox / "outbox" / "weekly").rglob("*.eml")
        archive = next((outbox / "archive" / "weekly").glob("[0-9]*.html"))
        smtp = make_project(tmp_path_factory.mktemp("smtp"))
        opts = {"host": "127.0.0.1", "port": controller.port, "security": "none"}
        collected(use_backend(smtp, "smtp", **opts)).send("weekly")
        with FakeSendGrid(API_KEY) as fake:
            sg = make_project(tmp_path_factory.mktemp("sendgrid"))
            collected(use_backend(sg, "sendgrid", host=fake.url)).send("weekly")
            (request,) = fake.requests
            assert fake.violations == []
        ((rcpt, raw),) = relay.messages
        assert rcpt == READER
        yield Delivered(raw, eml.read_bytes(), request.body, archive.read_text(encoding="utf-8"))
    finally:
        controller.stop()
        mp.undo()


def parts(raw: bytes) -> tuple[str, str, str]:
    """Subject (decoded), text and HTML of a message."""
    msg = message_from_bytes(raw, policy=policy.default)
    text, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert text is not None and html is not None
    return str(msg["Subject"]), text.get_content(), html.get_content()


def sendgrid_parts(body: dict[str, object]) -> tuple[str, str, str]:
    """Subject, text and HTML as SendGrid makes them: each substitution key replaced."""
    (person,) = body["personalizations"]  # type: ignore[misc]
    subject, text, html = body["subject"], *(c["value"] for c in body["content"])  # type: ignore[attr-defined]
    for key, value in person["substitutions"].items():
        subject, text, html = (s.replace(key, value) for s in (subject, text, html))
    return subject, text, html


def reader_data_only_where_the_template_puts_it(subject: str, text: str, html: str) -> None:
    unsubscribe = re.findall(r"https://digest\.example\.org/unsubscribe/[\w.-]+", text)
    preferences = re.findall(r"https://digest\.example\.org/preferences/[\w.-]+", text)
    assert len(unsubscribe) == len(preferences) == 1  # the footer's lines
    assert text.count(READER) == 1 and html.count(READER) == 1  # "You are receiving this ..."
    assert html.count(unsubscribe[0]) == 1 and html.count(preferences[0]) == 1
    assert subject == f"Hi {NAME}: #1"
    assert text.count("Zoe") == 0  # the text template has no name; content did not add one
    escaped = "Zoe &lt;b&gt;Bold&lt;/b&gt; &amp; Co"  # only where the subject is shown
    assert html.count(escaped) == html.count(f"Hi {escaped}: #1") >= 1 and "<b>Bold" not in html
    assert not KEYED.search(subject + text + html)


@pytest.mark.parametrize("backend", ["smtp", "outbox", "sendgrid"])
def test_each_backend_fills_only_the_templates_placeholders(
    delivered: Delivered, backend: str
) -> None:
    if backend == "sendgrid":
        got = sendgrid_parts(delivered.sendgrid)
    else:
        got = parts(delivered.smtp if backend == "smtp" else delivered.eml)
    reader_data_only_where_the_template_puts_it(*got)


@pytest.mark.parametrize("field", CONTENT_FIELDS)
@pytest.mark.parametrize("spelling", range(len(SPELLINGS)), ids=SPELLINGS)
def test_a_placeholder_in_content_reaches_the_reader_as_written(
    delivered: Delivered, field: str, spelling: int
) -> None:
    mark = f"{TAG[field]}{spelling}{'=' if field == 'link' else ''}{SPELLINGS[spelling]}"
    for backend, (_, text, html) in {
        "smtp": parts(delivered.smtp),
        "outbox": parts(delivered.eml),
        "sendgrid": sendgrid_parts(delivered.sendgrid),
    }.items():
        assert mark in text and mark in html, (backend, field)
    assert mark in delivered.archive


def test_sendgrid_substitution_keys_cannot_be_written_by_content(delivered: Delivered) -> None:
    body = delivered.sendgrid
    (person,) = body["personalizations"]  # type: ignore[misc]
    keys = list(person["substitutions"])
    assert keys and all(KEYED.fullmatch(k) for k in keys)
    assert not set(keys) & {f"-{f}-" for f in FIELDS}
    # each key is the template's, not content's: content's spellings carry no key
    content = body["subject"] + "".join(c["value"] for c in body["content"])  # type: ignore[attr-defined]
    for key in keys:
        assert content.count(key) >= 1
    subs = person["substitutions"]
    html_name = [v for k, v in subs.items() if k.startswith("-name") and k.endswith(".html-")]
    assert html_name and all(v == "Zoe &lt;b&gt;Bold&lt;/b&gt; &amp; Co" for v in html_name)


def test_the_public_archive_page_holds_no_placeholder(delivered: Delivered) -> None:
    assert not KEYED.search(delivered.archive)
    assert READER not in delivered.archive and "/unsubscribe/" not in delivered.archive
