"""Errors cross process boundaries (a parsing pool, Celery) with their subject and hint."""

from __future__ import annotations

import pickle
from concurrent.futures import ProcessPoolExecutor

from digest.errors import ConfigError, DigestError
from digest.sources.feed.fetch import FetchError
from digest.sources.feed.parse import FeedFormatError


def raise_format_error(url: str) -> None:
    raise FeedFormatError("not a feed: no RSS, Atom or JSON Feed found", subject=url, hint="look")


def test_keyword_only_fields_survive_pickling() -> None:
    errors: list[DigestError] = [
        ConfigError("bad key", subject="config.toml [collect]", hint="see docs/config.md"),
        FetchError("HTTP 503", url="https://example.org/feed", retryable=True, retry_after=3.0),
    ]
    for error in errors:
        back = pickle.loads(pickle.dumps(error))
        assert type(back) is type(error)
        assert back.__dict__ == error.__dict__
        assert str(back) == str(error) and back.args == error.args


def test_an_error_raised_in_a_pool_process_arrives_whole() -> None:
    with ProcessPoolExecutor(1) as pool:
        future = pool.submit(raise_format_error, "https://example.org/feed")
        error = future.exception(timeout=120)
    assert isinstance(error, FeedFormatError)
    assert (error.subject, error.hint) == ("https://example.org/feed", "look")
    assert str(error) == (
        "https://example.org/feed: not a feed: no RSS, Atom or JSON Feed found (hint: look)"
    )
