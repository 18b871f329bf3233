"""One post, one issue: the same guid, URL or near-identical body is stored once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from hashlib import blake2b
from pathlib import Path

import pytest
from sqlalchemy import select

from digest.collect import collect
from digest.config import Settings
from digest.config.load import load_settings
from digest.models import Window
from digest.sources.simhash import MAX_DISTANCE, distance, simhash
from digest.store import Store
from digest.store.schema import posts

from .feedserver import FeedServer, feed_source, server_fixture  # noqa: F401

NOW = datetime.now(UTC)
ARTICLE = (
    "The central bank surprised markets on Thursday by holding rates steady even as inflation "
    "ticked up for the third month in a row. Officials said the labour market was cooling and "
    "that the full effect of earlier increases had yet to pass through to prices. Analysts "
    "had expected a quarter point rise, and the currency fell sharply after the announcement. "
    "Exporters welcomed the decision while savers and pension funds were less pleased."
)
OTHER = (
    "Negotiators in Geneva reached a provisional agreement on humanitarian corridors late on "
    "Sunday, after three weeks of talks that had repeatedly stalled over inspection rights. "
    "The text still needs approval from both capitals, and aid agencies warned that previous "
    "ceasefires collapsed within days. Observers will monitor the routes from next week."
)


@pytest.fixture
def settings() -> Settings:
    return load_settings(Path(__file__).resolve().parent.parent / "config.toml")


@pytest.fixture
def store(database_url: str) -> Store:
    return Store(database_url)


def rss(*entries: tuple[str, str, str]) -> str:
    items = "".join(
        f"<item><title>T</title><guid>{guid}</guid><link>{link}</link>"
        f"<description><![CDATA[<p>{body}</p>]]></description></item>"
        for guid, link, body in entries
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
    )


def test_simhash_is_stable_under_small_edits() -> None:
    a, b = simhash(ARTICLE), simhash(ARTICLE.replace("sharply", "steeply") + " Read more.")
    c = simhash(OTHER)
    assert a is not None and b is not None and c is not None
    assert distance(a, b) <= MAX_DISTANCE < distance(a, c)
    assert simhash("Too short to fingerprint.") is None


def _simhash_by_the_definition(text: str) -> int | None:
    """The fingerprint as documented, in plain Python: blake2b of each casefolded word, 3-word
    shingles mixed by wrapping multiplies, each bit set when most shingles have it."""
    words = text.casefold().split()[:2000]
    if len(words) < 40:
        return None
    mask = (1 << 64) - 1
    h = [int.from_bytes(blake2b(w.encode(), digest_size=8).digest(), "little") for w in words]
    shingles = [
        (a * 0x9E3779B97F4A7C15 & mask) ^ (b * 0xC2B2AE3D27D4EB4F & mask) ^ c
        for a, b, c in zip(h, h[1:], h[2:], strict=False)
    ]
    value = sum(
        1 << bit for bit in range(64) if 2 * sum(s >> bit & 1 for s in shingles) > len(shingles)
    )
    return value - (1 << 64) if value >= 1 << 63 else value


@pytest.mark.parametrize("words", [40, 41, 300, 2000, 2500])
def test_fingerprints_are_those_stored_by_every_version(words: int) -> None:
    """Posts stored earlier keep the fingerprints they were stored with: the fast numpy
    reckoning must give exactly the definition's, or a re-collected post would no longer
    match its stored copy."""
    text = " ".join(f"{w}{i % 97}" for i, w in enumerate((ARTICLE + " " + OTHER).split() * 40))
    text = " ".join(text.split()[:words])
    assert simhash(text) == _simhash_by_the_definition(text) is not None
    assert simhash(ARTICLE * 3) == _simhash_by_the_definition(ARTICLE * 3)


def test_same_guid_across_runs_and_same_url_across_sources(
    server: FeedServer, settings: Settings, store: Store
) -> None:
    one = server.feed("/one.xml", rss(("https://a.example/?p=1", "https://A.example/x/", "One.")))
    two = server.feed(
        "/two.xml", rss(("tag:b,2024:9", "https://a.example/x?utm_source=feed#top", "Two."))
    )
    first = collect(settings, store, NOW, [feed_source(one, "one"), feed_source(two, "two")])
    assert [(o.new, o.duplicate) for o in first.outcomes] == [(1, 0), (0, 1)]
    again = collect(settings, store, NOW, [feed_source(one, "one")])
    assert (again.outcomes[0].new, again.outcomes[0].unchanged) == (0, 1)
    assert len(store.posts.since()) == 1


def test_near_identical_body_is_recorded_as_a_duplicate_of_the_earlier_post(
    server: FeedServer, settings: Settings, store: Store
) -> None:
    original = server.feed("/o.xml", rss(("https://o.example/1", "https://o.example/1", ARTICLE)))
    copy = ARTICLE.replace("sharply", "steeply") + " The post T appeared first on Syndicator."
    mirror = server.feed(
        "/m.xml",
        rss(
            ("https://m.example/9", "https://m.example/9", copy),
            ("https://m.example/10", "https://m.example/10", OTHER),
        ),
    )
    collect(settings, store, NOW, [feed_source(original, "original")])
    later = collect(settings, store, NOW + timedelta(hours=1), [feed_source(mirror, "mirror")])
    assert (later.outcomes[0].new, later.outcomes[0].duplicate) == (1, 1)
    with store.begin() as conn:
        rows = conn.execute(select(posts.c.id, posts.c.guid, posts.c.duplicate_of)).all()
    by_guid = {guid: (pid, dup) for pid, guid, dup in rows}
    assert by_guid["https://m.example/9"][1] == by_guid["https://o.example/1"][0]
    assert by_guid["https://m.example/10"][1] is None
    window = Window(NOW - timedelta(days=7), NOW + timedelta(days=7))
    chosen = {p.guid for p in store.posts.for_issue(1, window, None)}
    assert chosen == {"https://o.example/1", "https://m.example/10"}
