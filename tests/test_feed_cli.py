"""Feeds through the CLI: the collect table and JSON, --strict, source health, the email."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from digest.build import Builder
from digest.config.load import load_settings
from digest.store import Store

from .feedserver import FeedServer, server_fixture  # noqa: F401

DANGER = re.compile(r"(?i)<script|<iframe|\son[a-z]+\s*=|javascript:")
SOURCES = re.compile(r"^\[\[sources\]\].*?(?=^\[(?!\[sources)|\Z)", re.M | re.S)


def fresh_rss(*items: tuple[str, str, str, str]) -> str:
    """RSS whose entries were published an hour ago: (title, author, categories, body)."""
    when = format_datetime(datetime.now(UTC) - timedelta(hours=1))
    out = ""
    for i, (title, author, cats, body) in enumerate(items):
        tags = "".join(f"<category>{c}</category>" for c in cats.split(",") if c)
        out += (
            f"<item><title>{title}</title><link>https://blog.example.org/{i}</link>"
            f"<dc:creator>{author}</dc:creator><pubDate>{when}</pubDate>{tags}"
            f"<content:encoded><![CDATA[{body}]]></content:encoded></item>"
        )
    return (
        '<?xml version="1.0"?><rss version="2.0" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<channel><title>Blog</title>{out}</channel></rss>"
    )


def configure(project: Path, feeds: dict[str, str], keep_directories: bool = True) -> str:
    """Add feed sources (name → URL) to the project's config; returns the config path."""
    path = project / "config.toml"
    text = path.read_text(encoding="utf-8")
    if not keep_directories:
        text = SOURCES.sub("", text)
    for name, url in feeds.items():
        text += (
            f'\n[[sources]]\nname = "{name}"\ntype = "feed"\nurl = "{url}"\n'
            "retries = 0\nread_timeout = 60\ntotal_timeout = 120\nfull_text = false\n"
        )
    path.write_text(text, encoding="utf-8")
    return str(path)


def run(config: str, *args: str) -> Result:
    from digest.cli import main

    return CliRunner().invoke(main, ["--config", config, *args], catch_exceptions=False)


HOSTILE_BODY = (
    '<p onclick="x()">Energy prices <script>alert(1)</script>rose again this week.</p>'
    '<iframe src="https://evil.example"></iframe><a href="javascript:alert(2)">click</a>'
    '<img src="x.png" onerror="alert(3)"><a href="data:text/html,hi">d</a>'
)


def test_collect_table_json_and_strict(project: Path, server: FeedServer) -> None:
    good = server.feed("/good.xml", fresh_rss(("Wind auctions", "Maya Okafor", "", "<p>Hi</p>")))
    config = configure(project, {"good": good, "broken": server.url("/missing.xml")})
    table = run(config, "collect")
    assert table.exit_code == 0, table.output
    for word in ("good", "broken", "HTTP 404 Not Found", "fetched", "duplicate", "skipped"):
        assert word in table.output
    assert re.search(r"Sources \(read in \d+\.\d s\)", table.output), table.output
    as_json = run(config, "collect", "--json")
    assert as_json.exit_code == 0
    data: dict[str, Any] = json.loads(as_json.stdout)
    assert data["errors"] == [{"source": "broken", "error": "HTTP 404 Not Found"}]
    assert any(p["title"] == "Wind auctions" for p in data["posts"])
    assert isinstance(data["seconds"], float) and 0 < data["seconds"] < 120
    assert run(config, "collect", "--strict").exit_code == 1


def test_exit_non_zero_only_when_every_source_failed(project: Path, server: FeedServer) -> None:
    config = configure(
        project, {"a": server.url("/a.xml"), "b": "http://no.invalid/f"}, keep_directories=False
    )
    result = run(config, "collect")
    assert result.exit_code == 1
    assert "DNS lookup failed for no.invalid" in result.output


def test_sources_health(project: Path, server: FeedServer) -> None:
    good = server.feed("/good.xml", fresh_rss(("A post", "Someone", "", "<p>Body</p>")))
    config = configure(project, {"good": good, "broken": server.url("/missing.xml")})
    before = run(config, "sources")
    assert before.exit_code == 0 and "not yet read" in before.output
    run(config, "collect")
    run(config, "collect")
    rows = {r["name"]: r for r in json.loads(run(config, "sources", "--json").stdout)}
    assert rows["broken"]["consecutive_failures"] == 2
    assert rows["broken"]["last_error"] == "HTTP 404 Not Found"
    assert rows["broken"]["last_success"] is None
    assert rows["good"]["consecutive_failures"] == 0 and rows["good"]["last_success"]
    assert rows["network-posts"]["type"] == "directory"
    table = run(config, "sources").output
    assert "failing" in table and "404" in table
    assert run(config, "sources", "enable", "nope").exit_code == 3


def test_author_profile_gives_the_area_and_no_script_reaches_the_email(
    project: Path, server: FeedServer
) -> None:
    doc = fresh_rss(
        ("Grid storage grows", "Maya Okafor", "", HOSTILE_BODY),
        ("Rights report", "Unknown Writer", "Civil Liberties", "<p>A report on rights.</p>"),
    )
    config = configure(project, {"blog": server.feed("/blog.xml", doc)})
    assert run(config, "collect").exit_code == 0
    settings = load_settings(config)
    store = Store(settings.database.url)
    try:
        for post in store.posts.since():
            assert not DANGER.search(post.html or "") and "alert" not in post.text
        built = Builder(settings).build(store, "weekly", datetime.now(UTC))
    finally:
        store.close()
    areas = {p.title: s.area for s in built.digest.sections for p in s.posts}
    assert areas["Grid storage grows"] == "Climate & Energy"  # from the [[authors]] profile
    assert areas["Rights report"] == "Human Rights"  # from the feed's category alias
    for body in (built.email.html, built.email.text, built.email.mjml):
        assert not DANGER.search(body)
        assert "alert(" not in body


@pytest.mark.parametrize("bad", ["ftp://x.example/feed", "not a url"])
def test_feed_url_must_be_http(project: Path, bad: str) -> None:
    config = configure(project, {"bad": bad})
    result = run(config, "sources")
    assert result.exit_code == 2
    assert "url: expected an http(s) URL" in result.output


def test_documented_examples_are_valid(project: Path) -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "sources.md").read_text("utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", doc, re.S)
    assert len(blocks) == 2
    path = project / "config.toml"
    text = SOURCES.sub("", path.read_text(encoding="utf-8")) + "\n" + "\n".join(blocks)
    path.write_text(text.replace('path = "posts"', f'path = "{project / "posts"}"'), "utf-8")
    settings = load_settings(path)
    feed = {s.name: s for s in settings.sources}["fpb"].options
    assert feed.areas_map["Uncategorized"] == "" and feed.full_text == "auto"
