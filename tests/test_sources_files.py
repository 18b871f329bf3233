from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest.errors import PostParseError
from digest.sources.directory.blogpage import parse_blog_page
from digest.sources.directory.frontmatter import parse_markdown_post
from digest.sources.directory.source import DirectoryOptions, DirectorySource
from digest.text import safe_url

from .conftest import SAMPLE_PAGE, needs_shared

NY = ZoneInfo("America/New_York")


def test_sample_page_parses() -> None:
    needs_shared()
    text = SAMPLE_PAGE.read_text(encoding="utf-8")
    assert "\u00a0" in text  # the line that holds only a no-break space
    page = parse_blog_page(text, str(SAMPLE_PAGE))
    assert page.site == "Foreign Policy Blogs"
    assert page.title == "NATO Warms to Russia"
    assert page.caption == "NATO Meeting"
    assert page.author == "David Kampf"
    assert page.bio.startswith("David Kampf is a writer and researcher")
    assert page.areas == ("International Politics", "Foreign Affairs", "Economic Development")
    assert page.credit == "Photo from Sebastien Pirlet/Reuters."
    assert page.paragraphs[0].startswith("Foreign ministers at the North Atlantic")
    assert page.paragraphs[-1].startswith("“We can and must find ways")
    body = " ".join(page.paragraphs)
    assert "Photo from" not in body and "Contact" not in body and "\u00a0" not in body


PAGE = """Site

A Title

First paragraph of the post.
It continues on a second line.

Second paragraph.

Photo: Someone/AP

\u00a0

Author

Jane Roe

Jane writes about things.

Area of Focus
Security;  Human Rights ;

Contact
"""


def test_synthetic_page_without_caption() -> None:
    page = parse_blog_page(PAGE, "x.txt")
    assert page.caption is None
    assert page.paragraphs == (
        "First paragraph of the post. It continues on a second line.",
        "Second paragraph.",
    )
    assert page.credit == "Photo: Someone/AP"
    assert page.areas == ("Security", "Human Rights")
    assert (page.author, page.bio) == ("Jane Roe", "Jane writes about things.")


def test_page_without_author_block_is_accepted() -> None:
    page = parse_blog_page("Site\n\nTitle\n\nBody text here.\n", "y.txt")
    assert page.author is None and page.areas == () and page.paragraphs == ("Body text here.",)


def test_page_without_body_names_file_and_line() -> None:
    with pytest.raises(PostParseError) as exc:
        parse_blog_page("Site\n\nTitle\n\nAuthor\n\nJane\n", "posts/bad.txt")
    assert exc.value.subject == "posts/bad.txt:3"


MD = """---
title: "Sahel: a <b>test</b>"
author: Ana Silva
date: 2026-11-24 09:30
areas: [IR, Security]
url: https://blogs.example.org/2026/11/sahel/
---
A first paragraph with a [link](https://example.org/a) and *emphasis*.

<script>alert(1)</script>

## Heading

- item one
- item two
"""


def test_markdown_post() -> None:
    post = parse_markdown_post(MD, "posts/a.md", NY)
    assert post.title == "Sahel: a <b>test</b>"
    assert post.author == "Ana Silva"
    assert post.published == datetime(2026, 11, 24, 9, 30, tzinfo=NY)
    assert post.areas == ("IR", "Security")
    assert post.text.split("\n\n")[0] == "A first paragraph with a link and emphasis."
    assert "item one" in post.text and "Heading" in post.text
    assert "<script" not in post.html and "alert(1)" not in post.text
    assert '<a href="https://example.org/a"' in post.html


def test_markdown_dates_keep_offsets_and_strings() -> None:
    text = MD.replace("date: 2026-11-24 09:30", 'date: "2026-11-24T09:30:00+01:00"')
    post = parse_markdown_post(text, "a.md", NY)
    assert post.published is not None
    assert post.published.utcoffset() == timedelta(hours=1)
    text = MD.replace("date: 2026-11-24 09:30", 'date: "Tue, 24 Nov 2026 14:30:00 GMT"')
    assert parse_markdown_post(text, "a.md", NY).published == datetime(
        2026, 11, 24, 14, 30, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("no front matter\n", "a.md:1", "expected YAML front matter"),
        ("---\ntitle: [unclosed\n---\nbody\n", "a.md:", "invalid YAML"),
        ("---\nauthor: x\n---\nbody\n", "a.md:2", "non-empty 'title'"),
        ("---\ntitle: t\nsub: s\n---\nbody\n", "a.md:2", "unknown front matter key 'sub'"),
        ("---\ntitle: t\ndate: someday\n---\nbody\n", "a.md:2", "date: cannot read 'someday'"),
        ("---\ntitle: t\n---\n\n", "a.md:4", "no body text"),
        ("---\ntitle: t\nbody\n", "a.md:1", "never closed"),
    ],
)
def test_markdown_errors_name_file_and_line(text: str, where: str, message: str) -> None:
    with pytest.raises(PostParseError) as exc:
        parse_markdown_post(text, "a.md", NY)
    assert (exc.value.subject or "").startswith(where)
    assert message in exc.value.message


def test_directory_source_reports_bad_files_and_keeps_the_rest(tmp_path: Path) -> None:
    (tmp_path / "good.md").write_text(MD, encoding="utf-8")
    (tmp_path / "page.txt").write_text(PAGE, encoding="utf-8")
    (tmp_path / "broken.md").write_text("---\ntitle: t\n", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("Site\n\nCaf\xe9\n\nBody.\n".encode("latin-1"))
    (tmp_path / "notes.json").write_text("{}", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "nested.md").write_text(MD.replace("sahel/", "nested/"), encoding="utf-8")
    source = DirectorySource("dir", DirectoryOptions(path=tmp_path, timezone="America/New_York"))
    report = source.collect({})
    assert report.error is None
    titles = sorted(p.title for p in report.posts)
    assert titles == ["A Title", "Sahel: a <b>test</b>", "Sahel: a <b>test</b>"]
    problems = {Path(p.where.split(":")[0]).name: p.message for p in report.problems}
    assert set(problems) == {"broken.md", "latin1.txt"}
    assert "not UTF-8" in problems["latin1.txt"]
    page = next(p for p in report.posts if p.title == "A Title")
    assert page.guid == "dir:page.txt" and page.published is None and page.url is None
    md = next(p for p in report.posts if p.origin.endswith("good.md"))
    assert md.guid == "https://blogs.example.org/2026/11/sahel/"


def test_directory_missing_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    report = DirectorySource("d", DirectoryOptions(path=missing)).collect({})
    assert report.error is not None and "does not exist" in report.error
    optional = DirectorySource("d", DirectoryOptions(path=missing, optional=True)).collect({})
    assert optional.error is None and optional.posts == () and len(optional.problems) == 1


def test_markdown_javascript_url_is_not_kept() -> None:
    text = MD.replace("url: https://blogs.example.org/2026/11/sahel/", "url: javascript:alert(1)")
    text = text.replace("[link](https://example.org/a)", "[link](javascript:alert(2))")
    text = text.replace("## Heading", '<a href="javascript:alert(3)" onclick="x()">raw</a>')
    post = parse_markdown_post(text, "a.md", NY)
    assert not re.search(r"(?i)(href|src)\s*=\s*[\"']?\s*javascript:", post.html)
    assert "onclick" not in post.html
    assert safe_url(post.url) is None
