"""Boilerplate stripping, and full text fetched from article pages for excerpt-only feeds."""

from __future__ import annotations

import pytest

from digest.sources.feed.cleanup import clean_html, clean_text
from digest.sources.feed.entries import sanitize

from .feedserver import FeedServer, Reply, feed_source, server_fixture  # noqa: F401

LOOPBACK = ("127.0.0.0/8",)
"""These tests' article server is on loopback, which feed links may reach only by opt-in."""
PARAGRAPHS = [
    "The finance ministers met in Lusaka on Tuesday to settle the terms of the restructuring.",
    "Bondholders had resisted the haircut for months, arguing that the growth forecasts were "
    "too pessimistic and that copper prices would recover faster than the fund expected.",
    "In the end a compromise tied part of the repayment to export revenues, a mechanism that "
    "several economists described as a template for other distressed borrowers in the region.",
    "Civil society groups welcomed the deal but warned that social spending must be protected "
    "while the government rebuilds its reserves and regains access to the markets.",
]
ARTICLE = f"""<!DOCTYPE html><html><head><title>Debt deal</title></head><body>
<header><nav><a href="/">Home</a> | <a href="/about">About</a> | Subscribe now!</nav></header>
<main><article><h1>Debt deal reached</h1>{"".join(f"<p>{p}</p>" for p in PARAGRAPHS)}
<div class="sharedaddy"><a href="https://twitter.com/intent/tweet">Tweet</a></div></article></main>
<aside>Popular posts: one, two, three</aside>
<footer>Copyright 2024 Example Blog. All rights reserved.</footer></body></html>"""


def feed(*links: str) -> str:
    items = "".join(
        f"<item><title>Post {i}</title><link>{link}</link>"
        f"<description>The finance ministers met in Lusaka [&#8230;]</description></item>"
        for i, link in enumerate(links)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
    )


def test_wordpress_boilerplate_leaves_both_text_and_html() -> None:
    html, text = clean_html(
        "<p>Real content here.</p>"
        "<p>Read More…</p>"
        '<p><a class="more-link" href="/p">Continue reading <span>Post</span></a></p>'
        '<p><a href="https://b.example/p#comments">3 Comments</a> | '
        '<a href="https://www.facebook.com/sharer/sharer.php?u=x">Share on Facebook</a></p>'
        "<figure><img src='/a.jpg'><figcaption>Photo by Jane Roe on Unsplash</figcaption></figure>"
        "<p>Image credit: Wikimedia Commons</p>"
        '<img src="https://feeds.feedburner.com/~r/blog/~4/abc" width="1" height="1">'
        '<p>The post <a href="/p">Post</a> appeared first on <a href="/">Blog</a>.</p>'
    )
    assert text == "Real content here."
    shown = sanitize(html, "https://b.example/")
    junk = ("Read More", "Continue", "Comments", "Facebook", "Unsplash", "credit", "feedburner")
    for word in (*junk, "appeared first"):
        assert word not in shown, word
    assert '<img src="https://b.example/a.jpg">' in shown  # the photo stays, its credit goes


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Body text.\n\nThe post Foo appeared first on Bar Blog.", "Body text."),
        ("The summary ends here [&hellip;]", "The summary ends here"),
        ("The summary ends here […]", "The summary ends here"),
        ("Opening line. Read more »", "Opening line."),
        (
            f"{'A long opening line. ' * 8}  Continue   reading\n...",
            "A long opening line. " * 7 + "A long opening line.",
        ),
        ("You can read more […] in the report, which runs long. " * 3 + "Its last line.", None),
        ("Para one.\n\nPhoto: AP/Jane Roe\n\nPara two.", "Para one.\n\nPara two."),
        ("Photographs of the summit show the leaders apart.", None),
    ],
)
def test_text_boilerplate(raw: str, clean: str | None) -> None:
    assert clean_text(raw) == (clean or raw)


@pytest.mark.parametrize(
    "href",
    [
        "https://www.facebook.com/sharer/sharer.php?u=x",
        "https://twitter.com/intent/tweet?url=x",
        "https://twitter.com/share?url=x",
        "https://X.com/intent/post?url=x",
        "https://www.linkedin.com/shareArticle?url=x",
        "https://www.reddit.com/submit?url=x",
        "https://pinterest.com/pin/create/button/?url=x",
        "https://api.whatsapp.com/send?text=x",
        "https://t.me/share/url?url=x",
        "https://b.example/p/#respond",
        "https://b.example/p/#Comments",
        "https://b.example/p/?share=email",
        "https://b.example/p/?a=1&share=jetpack-whatsapp",
        "mailto:?subject=x",
        "https://feeds.feedburner.com/~ff/blog?a=x",
        "https://b.example/feed/",
        "https://b.example/p/feed",
    ],
)
def test_share_comment_and_feed_links_go_whatever_their_label(href: str) -> None:
    html, text = clean_html(f'<p>Real content here, <a href="{href}">then this</a>.</p>')
    assert text == "Real content here, ." and "then this" not in html


@pytest.mark.parametrize(
    "href",
    ["https://www.nytimes.com/2026/10/01/world/x.html", "/related/12", "https://x.community/a"],
)
def test_plain_links_stay(href: str) -> None:
    html, text = clean_html(f'<p>Real content here, <a href="{href}">then this</a>.</p>')
    assert text == "Real content here, then this." and f'href="{href}"' in html


def test_full_text_replaces_excerpts_and_keeps_them_when_extraction_fails(
    server: FeedServer,
) -> None:
    server.feed("/article/1", ARTICLE, "text/html; charset=utf-8")
    server.add("/article/pdf", Reply(body=b"%PDF-1.4", content_type="application/pdf"))
    server.feed("/article/empty", "<html><body><nav>Home</nav></body></html>", "text/html")
    links = [
        server.url(p) for p in ("/article/1", "/article/404", "/article/pdf", "/article/empty")
    ]
    url = server.feed("/f.xml", feed(*links))
    report = feed_source(url, full_text="auto", allow_networks=LOOPBACK).collect({})
    full, *kept = report.posts
    assert full.text.split("\n\n")[-4:] == PARAGRAPHS
    assert "Subscribe" not in full.text and "Copyright" not in full.text
    assert "Tweet" not in full.text and "Tweet" not in (full.html or "")
    assert "<p>The finance ministers met in Lusaka on Tuesday" in (full.html or "")
    for post in kept:
        assert post.text == "The finance ministers met in Lusaka"  # the excerpt, cleaned
    assert server.hits("/article/1")[0].headers["user-agent"].startswith("digest/")


def test_full_text_respects_mode_budget_and_limits(server: FeedServer) -> None:
    server.feed("/article/1", ARTICLE, "text/html")
    server.feed("/article/2", ARTICLE, "text/html")
    url = server.feed("/f.xml", feed(server.url("/article/1"), server.url("/article/2")))
    never = feed_source(url, full_text=False).collect({})
    assert all(p.text == "The finance ministers met in Lusaka" for p in never.posts)
    budget = feed_source(url, full_text=True, full_text_max=1, allow_networks=LOOPBACK).collect({})
    assert [len(p.text.split("\n\n")) > 1 for p in budget.posts] == [True, False]
    small = feed_source(
        url, full_text=True, max_bytes=len(feed("x", "y")) + 500, allow_networks=LOOPBACK
    ).collect({})
    assert all(p.text == "The finance ministers met in Lusaka" for p in small.posts)
    assert len(server.hits("/article/1")) == 2 and len(server.hits("/article/2")) == 1
