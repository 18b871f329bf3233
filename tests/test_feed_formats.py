"""Every feed format, served over real HTTP, parses to the entries feedparser sees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import feedparser

from digest.models import Post

from .feedserver import FEEDS, FeedServer, feed_source, server_fixture  # noqa: F401


def posts_of(srv: FeedServer, name: str, **options: object) -> list[Post]:
    report = feed_source(srv.file(name), **options).collect({})
    assert report.error is None, report.error
    return list(report.posts)


def test_rss091_and_092(server: FeedServer) -> None:
    old = posts_of(server, "rss091.xml")
    assert [p.title for p in old] == ["Café diplomacy in Vienna", "Tariffs and their discontents"]
    assert old[0].url == "https://oldschool.example.org/2024/cafe-diplomacy.html"
    assert old[0].text == "Envoys met over coffee to discuss the neutrality question."
    assert "<b>neutrality</b>" in (old[0].html or "")
    assert old[0].published is None  # no date at all: the store uses the collection time
    (arms,) = posts_of(server, "rss092.xml")
    assert arms.areas == ("Security",)  # "Arms Control" is an alias in the taxonomy
    assert arms.text == "What happens when verification ends.\n\nSecond paragraph."


def test_rss10_with_dc_creator_date_and_content(server: FeedServer) -> None:
    (post,) = posts_of(server, "rss10.xml")
    assert post.author == "Amira Hassan"
    assert post.published == datetime(2024, 3, 5, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    assert post.areas == ("Human Rights",)
    assert post.text == "The dam dispute is about more than water.\n\nIt is about who decides."


def test_rss20_wordpress(server: FeedServer) -> None:
    nato, climate = posts_of(server, "rss20.xml", timezone="America/New_York")
    assert nato.title == "NATO & the Baltic question"
    assert nato.url == f"{server.base}/2024/05/nato-baltic/?utm_source=rss&utm_medium=rss"
    assert nato.guid == "https://notes.example.org/?p=101"
    assert nato.author == "Jane Doe"
    assert nato.areas == ("Security",)  # "Defense" maps; the "NATO" tag is not an area
    assert nato.published == datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
    # content:encoded wins over the description excerpt; boilerplate is gone from both forms
    assert nato.text.startswith("The alliance weighs its options in the Baltic.")
    for junk in ("appeared first on", "Photo:", "[…]"):
        assert junk not in nato.text and junk not in (nato.html or "")
    assert f'href="{server.base}/2024/04/earlier/"' in (nato.html or "")
    assert f'src="{server.base}/img/map.png"' in (nato.html or "")
    # a naive pubDate takes the source's zone
    assert climate.published == datetime(2024, 5, 7, 8, 0, tzinfo=ZoneInfo("America/New_York"))
    assert climate.text == "Pledges made in Paris are not delivery."
    assert "Tweet" not in (climate.html or "") and climate.areas == ()


def test_atom(server: FeedServer) -> None:
    sanctions, inherit = posts_of(server, "atom.xml")
    assert sanctions.title == "Sanctions that bite"
    assert sanctions.url == "https://atom.example.org/blog/posts/sanctions"  # xml:base
    assert sanctions.guid == "tag:atom.example.org,2024:sanctions"
    assert sanctions.author == "Lee Park"
    assert sanctions.areas == ("Foreign Affairs",)
    assert sanctions.published == datetime(2024, 6, 1, 14, 0, tzinfo=UTC)
    assert 'href="https://atom.example.org/blog/enforcement"' in (sanctions.html or "")
    assert inherit.author == "Feed Author"  # Atom entries inherit the feed's author
    assert inherit.published == datetime(2024, 6, 1, 9, 0, tzinfo=UTC)  # updated, no published
    assert inherit.text == "Inherits the feed author."


def test_json_feed_1_1(server: FeedServer) -> None:
    url = server.file("feed.json")
    report = feed_source(url).collect({})
    debt, plain = report.posts
    assert debt.url == f"{server.base}/p/1" and debt.guid == "https://json.example.org/p/1"
    assert debt.author == "Tomas Reyes" and debt.areas == ("Economic Development",)
    assert debt.published == datetime(2024, 7, 1, 7, 0, tzinfo=UTC)
    assert f'href="{server.base}/p/0"' in (debt.html or "")
    assert plain.guid == f"{url}#2"  # a bare id is scoped to its feed
    assert plain.author == "Desk Editor"  # the feed's authors are the default
    assert plain.text == "First paragraph.\n\nSecond paragraph."
    assert plain.html == "<p>First paragraph.</p><p>Second paragraph.</p>"
    assert [p.where for p in report.problems] == ["item 3"]


def test_same_entries_as_feedparser(server: FeedServer) -> None:
    for name in ("rss091.xml", "rss092.xml", "rss10.xml", "rss20.xml", "atom.xml"):
        url = server.file(name)
        expected = feedparser.parse((FEEDS / name).read_bytes(), response_headers={
            "content-location": url, "content-type": "application/xml",
        }).entries  # fmt: skip
        posts = feed_source(url).collect({}).posts
        assert len(posts) == len(expected), name
        for post, entry in zip(posts, expected, strict=True):
            assert post.title.replace(" ", "") in entry.title.replace("<em>", "").replace(
                "</em>", ""
            ).replace(" ", "")
            assert post.url == entry.link
            if entry.get("published_parsed"):
                assert post.published is not None
                assert post.published.utctimetuple()[:6] == tuple(entry.published_parsed[:6])


def test_areas_map_overrides_and_drops(server: FeedServer) -> None:
    nato, _ = posts_of(server, "rss20.xml", areas_map={"NATO": "International Politics"})
    assert nato.areas == ("Security", "International Politics")
    nato, _ = posts_of(server, "rss20.xml", areas_map={"defense": ""})
    assert nato.areas == ()


def test_user_agent_and_accept(server: FeedServer) -> None:
    posts_of(server, "atom.xml")
    (seen,) = server.hits("/atom.xml")
    assert seen.headers["user-agent"].startswith("digest/0.")
    assert "(+https://digest.example.org)" in seen.headers["user-agent"]
    assert "application/atom+xml" in seen.headers["accept"]
    assert "gzip" in seen.headers["accept-encoding"]
