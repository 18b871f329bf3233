"""A slow source never holds up the issue (issue 14, item 3).

Each fetch has a wall-clock deadline from connect to last byte, headers included, and the
collect phase has a budget after which late sources are reported and skipped. The server here
dribbles its response headers a byte at a time, forever, so only those limits stop a client.
"""

from __future__ import annotations

import email
import json
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from digest.config.load import load_settings
from digest.errors import ConfigError

from .cli_helpers import run_digest
from .feedserver import SlowLoris

OUT_OF_TIME = 300
"""Generous: on today's main these commands never end, and the subprocess is killed here."""


@pytest.fixture
def loris() -> Iterator[SlowLoris]:
    srv = SlowLoris().start()
    try:
        yield srv
    finally:
        srv.stop()


def add_slow_feed(project: Path, url: str, options: str = "", collect: str = "") -> None:
    path = project / "config.toml"
    text = path.read_text(encoding="utf-8")
    if collect:
        text = f"[collect]\n{collect}\n\n{text}"
    text += f'\n[[sources]]\nname = "slow"\ntype = "feed"\nurl = "{url}"\n{options}'
    path.write_text(text, encoding="utf-8")


def test_headers_dribbled_byte_by_byte_stop_at_the_total_timeout(
    project: Path, loris: SlowLoris
) -> None:
    add_slow_feed(project, loris.url, "total_timeout = 2\nread_timeout = 30\nretries = 2\n")
    result = run_digest(project, "collect", "--json", timeout=OUT_OF_TIME)
    assert result.returncode == 0, result.stderr  # the folder sources still count
    data = json.loads(result.stdout)
    assert data["errors"] == [
        {"source": "slow", "error": "timed out: no complete response after 2s"}
    ]
    assert loris.connections == 1  # a deadline used up is not retried
    assert data["posts"]  # the good sources were collected


def test_a_run_sends_the_good_posts_when_a_source_outlasts_the_collect_budget(
    project: Path, loris: SlowLoris
) -> None:
    add_slow_feed(project, loris.url, collect='budget = "10s"')  # the feed's limits: defaults
    result = run_digest(project, "run", timeout=OUT_OF_TIME)
    assert result.returncode == 0, result.stderr
    assert "source failed slow:" in result.stderr and "over the collect budget" in result.stderr
    sent = sorted((project / "outbox").rglob("*.eml"))
    assert sent
    msg: EmailMessage = email.message_from_bytes(sent[0].read_bytes(), policy=policy.default)  # type: ignore[assignment]
    text = msg.get_body(("plain",))
    assert text is not None and "Carbon Border Tax" in text.get_content()  # a post from posts/
    health = json.loads(run_digest(project, "sources", "--json").stdout)
    slow = next(row for row in health if row["name"] == "slow")
    assert "over the collect budget" in slow["last_error"]


@pytest.mark.parametrize("bad", ['"0s"', '"soon"', "30"])
def test_collect_budget_must_be_a_positive_duration(project: Path, bad: str) -> None:
    path = project / "config.toml"
    path.write_text(f"[collect]\nbudget = {bad}\n\n" + path.read_text("utf-8"), "utf-8")
    with pytest.raises(ConfigError, match=r"collect(\.|: )budget"):
        load_settings(path)


def test_documented_keys() -> None:
    docs = Path(__file__).resolve().parent.parent / "docs"
    config = (docs / "config.md").read_text(encoding="utf-8")
    sources = (docs / "sources.md").read_text(encoding="utf-8")
    assert "## `[collect]`" in config and "| `budget` |" in config
    assert "| `allow_networks` |" in sources
