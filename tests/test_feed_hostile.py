"""Hostile and broken feeds: each is reported, none crashes the run, no script survives."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest.collect import collect
from digest.config import load_settings
from digest.store import Store

from .feedserver import FEEDS, FeedServer, Reply, endless, feed_source, server_fixture, trickle  # noqa: F401

LAUGHS = "".join(
    f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(2, 10)
)  # each level ten times the one before: a billion "lol"s at the top
BOMB = f"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY lol1 "lol">{LAUGHS}]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><link>https://x.example/</link></item></channel></rss>"""
XXE = """<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>t</title><item><title>&xxe;</title></item></channel></rss>"""
DANGER = re.compile(r"(?i)<script|<iframe|\son\w+\s*=|javascript:|data:")


def rss(*items: str, decl: str = '<?xml version="1.0" encoding="utf-8"?>') -> str:
    return f'{decl}<rss version="2.0"><channel><title>t</title>{"".join(items)}</channel></rss>'


def item(title: str = "", link: str = "", body: str = "", guid: str = "", date: str = "") -> str:
    parts = [f"<title>{title}</title>" if title else "", f"<link>{link}</link>" if link else ""]
    parts += [f"<guid>{guid}</guid>" if guid else "", f"<pubDate>{date}</pubDate>" if date else ""]
    parts.append(f"<description><![CDATA[{body}]]></description>" if body else "")
    return f"<item>{''.join(parts)}</item>"


def test_html_page_served_as_a_feed(server: FeedServer) -> None:
    page = (
        '<!DOCTYPE html><html><head><link rel="alternate" type="application/rss+xml" '
        'href="/feed/"></head><body><p>Welcome</p></body></html>'
    )
    url = server.feed("/blog", page, "text/html")
    report = feed_source(url).collect({})
    assert report.error == (
        f"not a feed: the server sent an HTML page (it links to a feed: {server.base}/feed/)"
    )


def test_malformed_and_truncated_xml(server: FeedServer) -> None:
    good = item("One", "https://b.example/1", "Body one.")
    truncated = server.feed("/t.xml", rss(good, item("Two", "https://b.example/2"))[:-60])
    report = feed_source(truncated).collect({})
    assert report.error is None and [p.title for p in report.posts][:1] == ["One"]
    assert "malformed XML, read leniently" in report.problems[0].message
    garbage = server.feed("/g.xml", "<?xml version='1.0'?><rss><channel><<<>>>&&&")
    bad = feed_source(garbage).collect({})
    assert bad.error is not None or bad.problems  # reported either way, never raised
    nothing = server.feed("/n.xml", "<?xml version='1.0'?><html")
    assert (feed_source(nothing).collect({}).error or "").startswith("not a feed")


def test_entity_bombs_are_refused(server: FeedServer) -> None:
    for path, doc in (("/bomb.xml", BOMB), ("/xxe.xml", XXE)):
        report = feed_source(server.feed(path, doc)).collect({})
        assert report.error == (
            "not read: the feed declares XML entities (a possible entity-expansion bomb)"
        )


def test_latin1_declared_as_utf8_and_the_reverse(server: FeedServer) -> None:
    body = rss(item("Café – naïve", "https://b.example/1", "Crème brûlée."))
    lying_utf8 = body.encode("cp1252")
    url = server.feed("/l1.xml", lying_utf8, "application/xml; charset=utf-8")
    assert feed_source(url).collect({}).posts[0].title == "Café – naïve"
    lying_latin1 = body.replace('encoding="utf-8"', 'encoding="ISO-8859-1"').encode("utf-8")
    url = server.feed("/u8.xml", lying_latin1, "text/xml")
    post = feed_source(url).collect({}).posts[0]
    assert (post.title, post.text) == ("Café – naïve", "Crème brûlée.")
    undeclared = rss(item("Café", "https://b.example/1"), decl="").encode("latin-1")
    url = server.feed("/none.xml", undeclared, "application/rss+xml")
    assert feed_source(url).collect({}).posts[0].title == "Café"


def test_active_content_never_survives(server: FeedServer) -> None:
    evil = (
        '<p onclick="steal()">Hello <script>alert(1)</script><iframe src="https://evil"></iframe>'
        '<a href="javascript:alert(2)">js</a> <a href="JaVaScRiPt&#58;alert(3)">js2</a>'
        '<img src="data:image/svg+xml;base64,PHN2Zz4=" onerror="x()">'
        '<a href="data:text/html,<script>alert(4)</script>">d</a>'
        '<svg onload="alert(5)"></svg><style>body{}</style>'
        '<a href="/rel" style="x" onmouseover="y()">ok</a></p>'
    )
    doc = rss(
        item("<script>alert(0)</script>Title", "javascript:alert(9)", evil, guid="g1"),
        item("Data", "data:text/html,hi", "x", guid="g2"),
    )
    report = feed_source(server.feed("/evil.xml", doc)).collect({})
    first, second = report.posts
    assert not DANGER.search(first.html or "") and not DANGER.search(first.text)
    assert "alert" not in first.text and "steal" not in (first.html or "")
    assert f'<a href="{server.base}/rel" rel="noopener noreferrer nofollow">ok</a>' in (
        first.html or ""
    )
    assert first.url is None and second.url is None  # only http(s) links are kept


def test_duplicate_guids_and_entries_missing_title_link_or_both(server: FeedServer) -> None:
    doc = rss(
        item("First", "https://b.example/1", "A", guid="https://b.example/?p=1"),
        item("Again", "https://b.example/1b", "B", guid="https://b.example/?p=1"),
        item("", "https://b.example/2", "Untitled but linked: the text gives the title."),
        item("Unlinked", "", "No link at all."),
        item("", "", ""),
    )
    report = feed_source(server.feed("/d.xml", doc)).collect({})
    titles = [p.title for p in report.posts]
    assert titles == ["First", "Untitled but linked: the text gives the title.", "Unlinked"]
    assert report.posts[2].url is None and report.posts[2].guid.startswith(f"{server.base}/d.xml#")
    problems = {p.where: p.message for p in report.problems}
    assert problems["entry 2"] == "duplicate guid 'https://b.example/?p=1' (kept entry 1)"
    assert problems["entry 5"] == "entry has no title, link or content"


def test_future_and_missing_dates(server: FeedServer) -> None:
    future = (datetime.now(UTC) + timedelta(days=400)).strftime("%a, %d %b %Y %H:%M:%S +0000")
    doc = rss(
        item("Future", "https://b.example/f", "x", date=future),
        item("Undated", "https://b.example/u", "y"),
        item("Garbled", "https://b.example/g", "z", date="the day after tomorrow"),
        item("Ancient", "https://b.example/a", "w", date="0001-01-01T00:00:00+01:00"),
    )
    report = feed_source(server.feed("/dates.xml", doc)).collect({})
    assert [p.published for p in report.posts] == [None, None, None, None]


def test_one_run_survives_every_hostile_source(server: FeedServer, database_url: str) -> None:
    sources = [
        feed_source(server.file("rss20.xml"), name="good"),
        feed_source(server.feed("/html", "<html><body>hi</body></html>", "text/html"), "html"),
        feed_source(server.feed("/bomb", BOMB), name="bomb"),
        feed_source(server.add("/big", Reply(body=endless(50 * 1024 * 1024))), "big",
                    max_bytes=1024 * 1024),
        feed_source(server.add("/slow", Reply(body=trickle(1000), pause=0.01)), "slow",
                    total_timeout=0.3),
        feed_source(server.url("/missing"), name="404"),
        feed_source("http://no-such-blog.invalid/feed", name="dns"),
        feed_source(server.feed("/json", '{"version": "1"}', "application/json"), "json"),
        feed_source(server.feed("/empty", b""), name="empty"),
    ]  # fmt: skip
    settings = load_settings(Path(__file__).resolve().parent.parent / "config.toml")
    store = Store(database_url)
    report = collect(settings, store, datetime.now(UTC), sources, workers=4)
    outcomes = {o.source: o for o in report.outcomes}
    assert outcomes["good"].error is None and outcomes["good"].new == 2
    assert {name for name, o in outcomes.items() if o.error} == {
        "html", "bomb", "big", "slow", "404", "dns", "json", "empty",
    }  # fmt: skip
    health = {h.name: h for h in store.sources.health()}
    assert health["dns"].consecutive_failures == 1 and health["good"].last_success
    assert len(store.posts.since()) == 2
    for post in store.posts.since():
        assert not DANGER.search(post.html or "")


def test_feeds_folder_is_well_formed() -> None:
    assert sorted(p.name for p in FEEDS.iterdir()) == [
        "atom.xml", "feed.json", "rss091.xml", "rss092.xml", "rss10.xml", "rss20.xml",
    ]  # fmt: skip
