"""The sample project's issue as its readers get it: ``digest run`` to the outbox, raw .eml files
opened in headless Chromium beside the web version it wrote.

Every post in every segment links somewhere that works, the table of contents jumps to its
sections, each segment's subject and preheader name its own lead, and axe-core finds nothing
serious on the email or the web version.
"""

from __future__ import annotations

import email
import re
import shutil
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from .axe import axe_violations, describe
from .cli_helpers import run_digest
from .conftest import ROOT, SHARED, needs_shared
from .email_helpers import filled

LINKS_JS = """() => Array.from(document.querySelectorAll('a[href]')).map(a => ({
  href: a.getAttribute('href'), text: a.textContent.trim(),
  name: (a.getAttribute('aria-label') || a.textContent).trim()}))"""
WEB_JS = """() => ({
  ids: Array.from(document.querySelectorAll('[id]')).map(e => e.id),
  posts: Array.from(document.querySelectorAll('article')).map(a => ({
    id: a.id, title: a.querySelector('h3').textContent.trim(),
    href: a.querySelector('h3 a') ? a.querySelector('h3 a').getAttribute('href') : null}))})"""
VAGUE = re.compile(r"(?i)^(read more|more|here|click here|link)\W*$")


class Issue:
    """The outbox messages and the web version of one ``digest run``."""

    def __init__(self, folder: Path):
        files = sorted((folder / "outbox").glob("weekly/*/*.eml"))
        self.messages: list[EmailMessage] = [
            email.message_from_bytes(f.read_bytes(), policy=policy.default)  # type: ignore[misc]
            for f in files
        ]
        (self.web_path,) = sorted((folder / "archive" / "weekly").glob("[0-9]*.html"))
        self.web = self.web_path.read_text(encoding="utf-8")

    def html(self, message: EmailMessage) -> str:
        part = message.get_body(("html",))
        assert part is not None
        return str(part.get_content())  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def issue(tmp_path_factory: pytest.TempPathFactory) -> Issue:
    folder = tmp_path_factory.mktemp("project")
    for name in ("templates", "subscribers", "posts"):
        shutil.copytree(ROOT / name, folder / name)
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    text = text.replace('path = "../shared/samples"', f'path = "{SHARED / "samples"}"')
    (folder / "config.toml").write_text(text, encoding="utf-8")
    result = run_digest(folder, "run")
    assert result.returncode == 0, result.stderr
    return Issue(folder)


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 600, "height": 900})
    page = context.new_page()
    page.route("**/*", lambda route: route.abort())
    yield page
    context.close()


def web_posts(page: Any, issue: Issue) -> dict[str, Any]:
    page.set_content(issue.web, wait_until="load")
    found: dict[str, Any] = page.evaluate(WEB_JS)
    return found


@pytest.mark.browser
def test_every_post_in_every_segment_has_a_working_link(page: Any, issue: Issue) -> None:
    needs_shared()  # counts on the sample post from ../shared
    web = web_posts(page, issue)
    posts = web["posts"]
    assert len(posts) >= 13
    assert any(p["href"] is None for p in posts)  # the sample has posts without a URL
    web_url = re.sub(r"\.html$", "", issue.web_path.name)
    segments = {m["Subject"] + str(m["To"]).split("@")[0]: m for m in issue.messages}
    assert len({issue.html(m).count("<h3") for m in issue.messages}) >= 3  # distinct segments
    for key, message in segments.items():
        page.set_content(filled(issue.html(message)), wait_until="load")
        links = page.evaluate(LINKS_JS)
        for post in posts:
            hrefs = [a["href"] for a in links if a["text"] == post["title"]]
            assert hrefs, f"{key}: no link on {post['title']!r}"
            for href in hrefs:
                if post["href"]:
                    assert href == post["href"], (key, post["title"])
                else:  # its place in the web version: an anchor that exists there
                    base, _, anchor = href.partition("#")
                    assert base.endswith(f"/{web_url}.html") and anchor == post["id"], href
                    assert anchor in web["ids"]
        vague = [a for a in links if VAGUE.match(a["name"])]
        assert vague == [], f"{key}: links whose text says nothing alone: {vague}"


@pytest.mark.browser
def test_table_of_contents_jumps_to_sections(page: Any, issue: Issue) -> None:
    for message in issue.messages:
        page.set_content(filled(issue.html(message)), wait_until="load")
        targets = [a["href"][1:] for a in page.evaluate(LINKS_JS) if a["href"].startswith("#")]
        assert targets, "no table of contents links"
        for target in targets:
            heading = page.evaluate(
                "(id) => { const e = document.getElementById(id); return e && e.tagName }", target
            )
            assert heading == "H2", target
    web = web_posts(page, issue)
    toc = [a["href"][1:] for a in page.evaluate(LINKS_JS) if a["href"].startswith("#")]
    assert toc and set(toc) <= set(web["ids"])


@pytest.mark.browser
def test_subject_and_preheader_name_the_segments_own_lead(page: Any, issue: Issue) -> None:
    subjects = set()
    for message in issue.messages:
        page.set_content(filled(issue.html(message)), wait_until="load")
        lead = page.evaluate(
            "() => { const l = document.querySelector('.lead');"
            " return [l.querySelector('h3').textContent.trim(),"
            " l.closest('table').closest('div').querySelector('h2').textContent.trim()] }"
        )
        first_section = page.evaluate("() => document.querySelector('h2').textContent.trim()")
        assert lead[1] == first_section  # the lead leads the segment's first section
        subject = " ".join(str(message["Subject"]).split())
        assert subject.endswith(lead[0]), (subject, lead)
        preheader = page.evaluate(
            "() => { const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);"
            " let n = w.nextNode(); while (n && !n.textContent.trim()) n = w.nextNode();"
            " const d = n.parentElement;"  # the first text of the body: the inbox preview
            " return [d.textContent.trim(), getComputedStyle(d).display, d.style.color] }"
        )
        assert lead[0] in preheader[0] and preheader[1] == "none" and preheader[2] == ""
        subjects.add(subject)
    assert len(subjects) >= 3  # segments led by different posts


@pytest.mark.browser
def test_axe_finds_nothing_serious_in_the_emails_and_the_web_version(
    page: Any, issue: Issue
) -> None:
    seen = set()
    for message in issue.messages:
        html = filled(issue.html(message))
        if message["Subject"] in seen:
            continue
        seen.add(message["Subject"])
        page.set_content(html, wait_until="load")
        violations = axe_violations(page)
        assert violations == [], describe(violations)
    page.set_content(issue.web, wait_until="load")
    violations = axe_violations(page)
    assert violations == [], describe(violations)
    assert page.evaluate("() => document.documentElement.lang") == "en"
    assert page.title().startswith("Policy Blogs Weekly #")


@pytest.mark.browser
def test_headings_in_order_and_layout_tables_presentational(page: Any, issue: Issue) -> None:
    message = issue.messages[0]
    page.set_content(filled(issue.html(message)), wait_until="load")
    levels = page.evaluate(
        "() => Array.from(document.querySelectorAll('h1,h2,h3,h4,h5,h6'))"
        ".map(h => Number(h.tagName[1]))"
    )
    assert levels[0] == 1 and all(b - a <= 1 for a, b in pairwise(levels))
    roles = page.evaluate(
        "() => Array.from(document.querySelectorAll('table')).map(t => t.getAttribute('role'))"
    )
    assert roles and set(roles) == {"presentation"}
    assert page.evaluate("() => document.documentElement.lang") == "en"
    assert page.title() == " ".join(str(message["Subject"]).split())
