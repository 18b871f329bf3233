"""Pictures from feeds and articles, over real HTTP from 127.0.0.1, through the store into the
lead of the email: https only, private hosts refused, sizes kept."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from digest.config import load_settings
from digest.group import group
from digest.models import Digest, Image, Window
from digest.render import Renderer
from digest.store import Store
from digest.summarize import ExtractiveSummarizer
from digest.taxonomy import Taxonomy

from .feedserver import FeedServer, feed_source, server_fixture  # noqa: F401
from .test_feed_cleanup import ARTICLE, LOOPBACK

MEDIA = "http://search.yahoo.com/mrss/"
PUBLIC = "https://cdn.example.org/pictures"


def rss(*items: str) -> str:
    return (
        f'<?xml version="1.0"?><rss version="2.0" xmlns:media="{MEDIA}"><channel><title>t</title>'
        + "".join(items)
        + "</channel></rss>"
    )


def item(n: int, extra: str, link: str = "") -> str:
    link = link or f"https://blogs.example.org/p/{n}"
    return (
        f"<item><title>Post {n}</title><link>{link}</link><guid>g{n}</guid>"
        f"<description>{'Words of the post. ' * 40}</description>{extra}</item>"
    )


def test_feed_pictures_are_kept_only_when_public_https(server: FeedServer) -> None:
    url = server.feed(
        "/f.xml",
        rss(
            item(
                1,
                f'<media:content url="{PUBLIC}/1.jpg" medium="image" width="1200" '
                'height="800"><media:description>Ships in ice</media:description>'
                "</media:content>",
            ),
            item(2, f'<media:thumbnail url="{PUBLIC}/2.jpg" width="300" height="200"/>'),
            item(3, f'<enclosure url="{PUBLIC}/3.png" type="image/png" length="10"/>'),
            item(4, '<enclosure url="https://10.0.0.5/4.png" type="image/png" length="1"/>'),
            item(5, '<media:content url="http://cdn.example.org/5.jpg" medium="image"/>'),
            item(6, f'<enclosure url="{PUBLIC}/6.mp3" type="audio/mpeg" length="1"/>'),
            item(
                7,
                '<media:thumbnail url="https://[::1]/7.jpg"/>'
                f'<media:thumbnail url="{PUBLIC}/7.jpg"/>',
            ),
        ),
    )
    posts = {p.title: p.image for p in feed_source(url).collect({}).posts}
    assert posts == {
        "Post 1": Image(f"{PUBLIC}/1.jpg", 1200, 800),
        "Post 2": Image(f"{PUBLIC}/2.jpg", 300, 200),
        "Post 3": Image(f"{PUBLIC}/3.png"),
        "Post 4": None,  # a private address literal
        "Post 5": None,  # not https
        "Post 6": None,  # not a picture
        "Post 7": Image(f"{PUBLIC}/7.jpg"),  # the first usable one
    }


def test_og_image_comes_with_the_full_text(server: FeedServer) -> None:
    page = ARTICLE.replace(
        "<title>Debt deal</title>",
        f'<title>Debt deal</title><meta property="og:image" content="{PUBLIC}/og.jpg">'
        '<meta property="og:image:width" content="1600"><meta property="og:image:height" '
        'content="900"><meta property="og:image:alt" content="Ministers at the table">',
    )
    server.feed("/article/1", page, "text/html; charset=utf-8")
    server.feed(
        "/article/2",
        ARTICLE.replace(
            "<title>", '<meta property="og:image" content="https://192.168.1.1/x.jpg"><title>'
        ),
        "text/html",
    )
    links = [server.url("/article/1"), server.url("/article/2")]
    url = server.feed(
        "/f.xml",
        rss(
            *(
                f"<item><title>Post {i}</title><link>{link}</link><description>The finance "
                "ministers met [&#8230;]</description></item>"
                for i, link in enumerate(links)
            )
        ),
    )
    first, second = feed_source(url, full_text="auto", allow_networks=LOOPBACK).collect({}).posts
    assert first.image == Image(f"{PUBLIC}/og.jpg", 1600, 900, "Ministers at the table")
    assert second.image is None


def test_a_stored_picture_reaches_the_lead_of_the_email(
    server: FeedServer, database_url: str
) -> None:
    url = server.feed(
        "/f.xml",
        rss(
            item(
                1, f'<media:content url="{PUBLIC}/1.jpg" medium="image" width="800" height="600"/>'
            )
        ),
    )
    settings = load_settings(Path(__file__).resolve().parent.parent / "config.toml")
    store = Store(database_url)
    store.posts.upsert(feed_source(url).collect({}).posts, datetime.now(UTC))
    (stored,) = store.posts.since()
    assert stored.image == Image(f"{PUBLIC}/1.jpg", 800, 600)
    sections = group([stored], ExtractiveSummarizer(), Taxonomy(settings.taxonomy), {})
    now = datetime.now(UTC)
    digest = Digest("weekly", 1, Window(now, now), sections, now)
    html = Renderer(settings).render(digest).html
    assert f'<img src="{PUBLIC}/1.jpg" width="536" height="402" alt="Post 1"' in html
