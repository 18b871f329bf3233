"""Fetching over real HTTP: conditional GET, gzip, retries, limits, and network failures."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

from digest.collect import collect
from digest.config import load_settings
from digest.sources.fetch import retry_after
from digest.store import Store

from .feedserver import FEEDS, FeedServer, Reply, endless, feed_source, server_fixture, trickle  # noqa: F401

ATOM = (FEEDS / "atom.xml").read_bytes()
LAST_MODIFIED = "Sat, 01 Jun 2024 12:00:00 GMT"


def test_conditional_get_with_etag_and_last_modified(server: FeedServer) -> None:
    url = server.add("/f", Reply(body=ATOM, etag='"v1"', last_modified=LAST_MODIFIED))
    source = feed_source(url)
    first = source.collect({})
    assert len(first.posts) == 2
    assert first.state == {"etag": '"v1"', "last_modified": LAST_MODIFIED}
    second = source.collect(first.state)
    assert second.not_modified and second.posts == () and second.error is None
    assert second.state == first.state  # kept for the next run
    sent = server.hits("/f")[1].headers
    assert sent["if-none-match"] == '"v1"' and sent["if-modified-since"] == LAST_MODIFIED


def test_last_modified_alone(server: FeedServer) -> None:
    url = server.add("/f", Reply(body=ATOM, last_modified=LAST_MODIFIED))
    first = feed_source(url).collect({})
    assert first.state == {"last_modified": LAST_MODIFIED}
    assert feed_source(url).collect(first.state).not_modified


def test_gzip_body(server: FeedServer) -> None:
    url = server.add("/f", Reply(body=ATOM, gzip=True))
    assert len(feed_source(url).collect({}).posts) == 2


def test_gzip_bomb_stops_at_the_decoded_limit(server: FeedServer) -> None:
    url = server.add("/f", Reply(body=b"<rss>" + b" " * 20_000_000, gzip=True))
    report = feed_source(url, max_bytes=1_000_000).collect({})
    assert report.error and "over the size limit" in report.error


def test_retries_5xx_with_backoff_and_honours_retry_after(server: FeedServer) -> None:
    url = server.add("/f", Reply(503, headers={"Retry-After": "7"}), Reply(500), Reply(body=ATOM))
    slept: list[float] = []
    report = feed_source(url, sleep=slept.append, retries=2, backoff=0.5).collect({})
    assert report.error is None and len(report.posts) == 2
    assert len(server.hits("/f")) == 3
    assert slept[0] == 7.0  # Retry-After, exactly
    assert 0.5 <= slept[1] <= 1.5 * 2  # backoff 0.5 * 2**1, with jitter of ±50%


def test_retry_after_too_long_gives_up(server: FeedServer) -> None:
    url = server.add("/f", Reply(429, headers={"Retry-After": "3600"}))
    slept: list[float] = []
    report = feed_source(url, sleep=slept.append, retries=3).collect({})
    assert report.error == "HTTP 429 Too Many Requests; the server asked to wait 3600s"
    assert slept == [] and len(server.hits("/f")) == 1


def test_retry_after_http_date() -> None:
    when = datetime(2030, 1, 1, 0, 0, 30, tzinfo=UTC)
    assert retry_after(format_datetime(when, usegmt=True), now=when.timestamp() - 30) == 30
    assert retry_after("soon") is None and retry_after("120") == 120


def test_persistent_5xx_fails_after_the_retries(server: FeedServer) -> None:
    url = server.add("/f", Reply(502))
    report = feed_source(url, sleep=lambda _: None, retries=1).collect({})
    assert report.error == "HTTP 502 Bad Gateway"
    assert len(server.hits("/f")) == 2


def test_client_errors_are_not_retried(server: FeedServer) -> None:
    report = feed_source(server.url("/missing"), retries=2).collect({})
    assert report.error == "HTTP 404 Not Found" and len(server.hits("/missing")) == 1


def test_http_410_disables_the_source_until_enabled(server: FeedServer, database_url: str) -> None:
    url = server.add("/f", Reply(410))
    settings = load_settings(Path(__file__).resolve().parent.parent / "config.toml")
    store = Store(database_url)
    now = datetime.now(UTC)
    first = collect(settings, store, now, [feed_source(url, name="gone")])
    (outcome,) = first.outcomes
    assert outcome.disabled and outcome.error and "410" in outcome.error
    second = collect(settings, store, now, [feed_source(url, name="gone")])
    assert second.outcomes[0].disabled and len(server.hits("/f")) == 1  # not asked again
    assert store.sources.enable("gone")
    collect(settings, store, now, [feed_source(url, name="gone")])
    assert len(server.hits("/f")) == 2


def test_redirects_followed_and_relative_links_use_the_final_url(server: FeedServer) -> None:
    server.add("/old", Reply(301, headers={"Location": "/new/feed.json"}))
    server.file("feed.json", "/new/feed.json")
    report = feed_source(server.url("/old")).collect({})
    assert report.posts[0].url == f"{server.base}/p/1"


def test_redirect_loop_and_limit(server: FeedServer) -> None:
    server.add("/a", Reply(302, headers={"Location": "/b"}))
    server.add("/b", Reply(302, headers={"Location": "/a"}))
    loop = feed_source(server.url("/a")).collect({})
    assert loop.error == f"redirect loop at {server.base}/a"
    for i in range(4):
        server.add(f"/r{i}", Reply(302, headers={"Location": f"/r{i + 1}"}))
    too_many = feed_source(server.url("/r0"), max_redirects=2).collect({})
    assert too_many.error == "too many redirects (more than 2)"


def test_50_mb_body_stops_at_the_limit(server: FeedServer) -> None:
    sent: list[int] = []

    def counted() -> Iterator[bytes]:
        for chunk in endless(50 * 1024 * 1024)():
            sent.append(len(chunk))
            yield chunk

    url = server.add("/big", Reply(body=counted))
    report = feed_source(url, max_bytes=2 * 1024 * 1024).collect({})
    assert report.error and report.error.startswith("body over the size limit of 2,097,152 bytes")
    assert sum(sent) < 10 * 1024 * 1024  # the client hung up long before 50 MB
    declared = server.add("/declared", Reply(body=b"x" * 5000, headers={}))
    small = feed_source(declared, max_bytes=1000).collect({})
    assert small.error and "5,000 bytes declared" in small.error


def test_trickling_server_hits_the_total_timeout(server: FeedServer) -> None:
    url = server.add("/slow", Reply(body=trickle(2000), pause=0.01))
    report = feed_source(url, read_timeout=1.0, total_timeout=0.3).collect({})
    assert report.error == "timed out: still downloading after 0.3s"


def test_silent_server_hits_the_read_timeout(server: FeedServer) -> None:
    url = server.add("/stall", Reply(body=trickle(3), pause=0.6))
    report = feed_source(url, read_timeout=0.2).collect({})
    assert report.error == "timed out waiting for data (nothing for 0.2s)"


def test_dns_failure_and_refused_connection() -> None:
    dns = feed_source("http://no-such-blog.invalid/feed").collect({})
    assert dns.error == "DNS lookup failed for no-such-blog.invalid"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    refused = feed_source(f"http://127.0.0.1:{port}/feed").collect({})
    assert refused.error == "connection refused by 127.0.0.1"
