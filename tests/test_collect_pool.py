"""Feeds parsed in a pool of processes (``[collect] processes``), served by a real local server.

The pool must store exactly what parsing in-process stores (same rows, same order, same
duplicates), and a feed that kills or hangs its parsing process must cost that feed only.
Faults come from the parse fault hook (``DIGEST_PARSE_FAULT``, see digest.sources.feed.faults).
"""

from __future__ import annotations

import errno
import multiprocessing.process
import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from digest.collect import collect
from digest.config import Settings
from digest.config.load import load_settings
from digest.errors import ConfigError
from digest.reports import CollectReport
from digest.sources.base import SourceReport
from digest.sources.feed.faults import FAULT_ENV
from digest.sources.feed.source import FeedSource
from digest.sources.simhash import simhash
from digest.store import Store
from digest.store.schema import posts

from .databases import dump
from .feedserver import FEEDS, FeedServer, feed_source, server_fixture  # noqa: F401
from .test_feed_cleanup import ARTICLE, LOOPBACK, PARAGRAPHS

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BODY = (
    "Negotiators in Geneva reached a provisional agreement on humanitarian corridors late on "
    "Sunday, after three weeks of talks that had repeatedly stalled over inspection rights. "
    "The text still needs approval from both capitals, and aid agencies warned that previous "
    "ceasefires collapsed within days. Observers will monitor the routes from next week."
)
WAIT = 600
"""Seconds a collect may take on a loaded machine before the test calls it stuck."""


def rss(*entries: tuple[str, str, str]) -> str:
    items = "".join(
        f"<item><title>T {guid}</title><guid>{guid}</guid><link>{link}</link>"
        f"<description><![CDATA[<p>{body}</p>]]></description></item>"
        for guid, link, body in entries
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
    )


def with_processes(processes: int, budget: str = "5m") -> Settings:
    settings = load_settings(Path(__file__).resolve().parent.parent / "config.toml")
    return replace(settings, collect=replace(settings.collect, processes=processes, budget=budget))


def sources(server: FeedServer, *extra: str) -> list[FeedSource]:
    """Every sample feed format, cross-source duplicates, a duplicate guid and a non-feed."""
    urls = {path.stem: server.file(path.name) for path in sorted(FEEDS.iterdir())}
    urls["first"] = server.feed("/first.xml", rss(("a-1", "https://a.example/x/", BODY)))
    urls["again"] = server.feed(
        "/again.xml",
        rss(
            ("b-1", "https://a.example/x?utm_source=feed", "Same link, other words."),
            ("b-2", "https://b.example/near", BODY + " Read more."),
            ("b-2", "https://b.example/twice", "A second entry with the same guid."),
        ),
    )
    urls["html"] = server.feed(
        "/page.html", "<!doctype html><html><body>not a feed</body></html>", "text/html"
    )
    for name in extra:
        urls[name] = server.feed(
            f"/{name}.xml",
            rss((f"{name}-1", f"https://{name}.example/", f"A short note from {name}.")),
        )
    made = []
    for name, url in urls.items():
        source = feed_source(url, name, full_text=False)
        source.clock = lambda: NOW
        made.append(source)
    return made


def collect_in_time(settings: Settings, store: Store, chosen: list[FeedSource]) -> CollectReport:
    """Collect in a thread and fail, rather than hang, if it does not end."""
    done: list[CollectReport] = []
    thread = threading.Thread(target=lambda: done.append(collect(settings, store, NOW, chosen)))
    thread.start()
    thread.join(WAIT)
    assert done, f"collect did not end within {WAIT}s"
    return done[0]


def test_the_pool_stores_exactly_what_in_process_parsing_stores(
    server: FeedServer, database_url: str, new_database: object
) -> None:
    stores = {1: Store(database_url), 2: Store(new_database())}  # type: ignore[operator]
    reports = {}
    for processes, store in stores.items():
        reports[processes] = collect_in_time(with_processes(processes), store, sources(server))
        store.close()
    inline, pooled = reports[1], reports[2]
    assert pooled.outcomes == inline.outcomes  # every count, problem and error (the time aside)
    assert inline.new >= 10 and any(o.duplicate for o in inline.outcomes)
    assert any(o.problems for o in inline.outcomes)  # the repeated guid
    assert [o.source for o in inline.outcomes if o.error] == ["html"]
    urls = [str(s.engine.url.render_as_string(hide_password=False)) for s in stores.values()]
    assert dump(urls[0]) == dump(urls[1])  # every row, ids and duplicate links included


def test_a_feed_that_kills_its_parser_is_reported_and_the_others_are_stored(
    server: FeedServer, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FAULT_ENV, "kill:poison")
    store = Store(database_url)
    chosen = sources(server, "poison", "after1", "after2", "after3")
    report = collect_in_time(with_processes(2), store, chosen)
    by_name = {o.source: o for o in report.outcomes}
    assert by_name["poison"].error == (
        "the process parsing this feed died (signal 9), twice: not read"
    )
    assert [o.source for o in report.outcomes if o.error] == ["html", "poison"]
    for name in ("after1", "after2", "after3", "rss20", "atom"):
        assert by_name[name].fetched >= 1 and not by_name[name].error, by_name[name]
    stored = {p.source for p in store.posts.since()}
    assert {"after1", "after2", "after3", "rss20", "atom"} <= stored and "poison" not in stored
    store.close()


def test_a_parse_that_hangs_ends_with_the_collect_budget(
    server: FeedServer, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FAULT_ENV, "hang:stuck")
    store = Store(database_url)
    report = collect_in_time(with_processes(2, "20s"), store, sources(server, "stuck", "fine"))
    by_name = {o.source: o for o in report.outcomes}
    assert (
        by_name["stuck"].error is not None and "over the collect budget" in by_name["stuck"].error
    )
    assert by_name["fine"].new == 1 and not by_name["fine"].error
    assert "fine" in {p.source for p in store.posts.since()}
    store.close()


@pytest.mark.parametrize("bad", ["-1", "257", '"two"'])
def test_collect_processes_must_be_a_count(project: Path, bad: str) -> None:
    path = project / "config.toml"
    path.write_text(f"[collect]\nprocesses = {bad}\n\n" + path.read_text("utf-8"), "utf-8")
    with pytest.raises(ConfigError, match=r"collect(\.|: )processes"):
        load_settings(path)


def test_processes_that_cannot_start_cost_their_feeds_not_the_run(
    server: FeedServer, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kernel refuses every new process (EAGAIN, as at the process limit): each feed is
    reported with the setting that avoids processes, and the collect itself ends cleanly."""

    def refused(self: object) -> None:
        raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", refused)
    store = Store(database_url)
    report = collect_in_time(with_processes(2), store, sources(server, "one", "two"))
    feeds = [o for o in report.outcomes if o.source != "html"]
    assert len(feeds) >= 8 and all(o.error for o in feeds)
    assert {o.error for o in feeds} == {
        "could not start a process to parse it ([collect] processes = 1 parses in-process): "
        "[Errno 11] Resource temporarily unavailable"
    }
    assert store.posts.since() == []  # nothing half-read
    store.close()


def test_each_post_is_stored_with_the_fingerprint_of_the_text_stored(
    server: FeedServer, database_url: str
) -> None:
    """Fingerprints are worked out in the parsing processes, from each post's text as parsed;
    a post whose excerpt was then replaced by its article's full text is fingerprinted from
    the full text, or a near-copy of the article would not be caught."""
    server.feed("/article/1", ARTICLE, "text/html; charset=utf-8")
    excerpt = " ".join(" ".join(PARAGRAPHS).split()[:45]) + " […]"
    item = f"<item><title>Debt</title><link>{server.url('/article/1')}</link>"
    body = f"<description>{excerpt}</description></item>"
    url = server.feed("/full.xml", f'<rss version="2.0"><channel><title>t</title>{item}{body}')
    full = feed_source(url, "full", full_text=True, allow_networks=LOOPBACK)
    full.clock = lambda: NOW
    store = Store(database_url)
    report = collect_in_time(with_processes(2), store, [*sources(server, "one"), full])
    assert {o.source: o.new for o in report.outcomes}["full"] == 1
    with store.begin() as conn:
        rows = conn.execute(select(posts.c.source, posts.c.text, posts.c.simhash)).all()
    assert len(rows) >= 10
    for source, text, fingerprint in rows:
        assert fingerprint == simhash(text), source
    (article,) = [text for source, text, _ in rows if source == "full"]
    assert article.split("\n\n")[-4:] == PARAGRAPHS  # the full text, not the excerpt
    assert simhash(article) != simhash(excerpt) is not None
    store.close()


class StoredFirst:
    """A source that answers only once another connection sees ``first``'s posts stored (or
    after ``WAIT`` seconds), and tells which."""

    name = "last"

    def __init__(self, database_url: str, first: str):
        self.database_url, self.first = database_url, first
        self.saw_first_stored = threading.Event()

    def collect(self, state: Mapping[str, str]) -> SourceReport:
        reader = Store(self.database_url)
        try:
            until = time.monotonic() + WAIT
            while time.monotonic() < until and not self.saw_first_stored.is_set():
                if any(p.source == self.first for p in reader.posts.since()):
                    self.saw_first_stored.set()
                else:
                    time.sleep(0.05)  # polls the store: what is waited for is a commit
        finally:
            reader.close()
        return SourceReport(self.name)


def test_a_source_is_stored_while_the_sources_after_it_are_still_read(
    server: FeedServer, database_url: str
) -> None:
    """With parsing in a pool, storing overlaps reading: a collect stores each source once it
    and those before it are read, instead of storing everything after the slowest source has
    answered."""
    store = Store(database_url)
    last = StoredFirst(database_url, "first")
    feeds = sources(server, "one", "two", "three")  # enough feeds for a pool
    report = collect_in_time(with_processes(2), store, [*feeds, last])
    assert last.saw_first_stored.is_set()
    assert {o.source: o.new for o in report.outcomes}["first"] == 1
    store.close()
