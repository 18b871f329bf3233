"""Feeds parsed by real ``digest worker`` processes on the real RabbitMQ (``[workers] broker``).

``digest collect`` still fetches the feeds from a real local server; the bodies go to the
workers as Celery tasks and the posts come back over the ``rpc://`` result backend. The store
must hold what an in-process collect stores, and a worker killed mid-parse (the parse fault
hook, ``DIGEST_PARSE_FAULT``) must not lose its feed.
"""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

from digest.config.load import load_settings
from digest.sources.feed.faults import FAULT_DIR_ENV, FAULT_ENV
from digest.store import Store

from .cli_helpers import cli_env, run_digest
from .feedserver import FEEDS, FeedServer, server_fixture  # noqa: F401
from .workers_helpers import BROKER_ENV, Worker, env_for

WAIT = 600


def add_feeds(project: Path, server: FeedServer) -> None:
    """The sample feeds of every format, two sources sharing a link, through workers."""
    text = (project / "config.toml").read_text(encoding="utf-8")
    text += f'\n[workers]\nbroker_env = "{BROKER_ENV}"\nqueue = "parse-{secrets.token_hex(4)}"\n'
    for path in sorted(FEEDS.iterdir()):
        url = server.file(path.name)
        text += f'\n[[sources]]\nname = "{path.stem}"\ntype = "feed"\nurl = "{url}"\n'
        text += "full_text = false\nretries = 0\n"
    item = "<item><title>Same</title><guid>{0}</guid><link>https://a.example/x/</link></item>"
    for name in ("first", "again"):
        body = f'<rss version="2.0"><channel><title>t</title>{item.format(name)}</channel></rss>'
        url = server.feed(f"/{name}.xml", body)
        text += f'\n[[sources]]\nname = "{name}"\ntype = "feed"\nurl = "{url}"\n'
        text += "full_text = false\nretries = 0\n"
    (project / "config.toml").write_text(text, encoding="utf-8")


def use_database(project: Path, url: str) -> None:
    path = project / "config.toml"
    text = re.sub(
        r'(?m)^url = "(sqlite|postgresql)[^"]*"', f'url = "{url}"', path.read_text("utf-8")
    )
    path.write_text(text, encoding="utf-8")


def collect(project: Path, env: dict[str, str]) -> None:
    """``digest collect``; every source read."""
    result = run_digest(project, "collect", "--json", env=env, timeout=WAIT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["errors"] == [], result.stdout


def posts(url: str) -> list[tuple[object, ...]]:
    store = Store(url)
    try:
        return [
            (p.id, p.source, p.guid, p.title, p.text, p.url, p.author, p.areas, p.html, p.image)
            + ((p.published,) if p.published_given else ())
            for p in sorted(store.posts.since(), key=lambda p: p.id)
        ]
    finally:
        store.close()


def test_a_collect_through_workers_stores_what_an_in_process_collect_stores(
    project: Path, server: FeedServer, vhost: str, workers: list[Worker], new_database: object
) -> None:
    add_feeds(project, server)
    inline = load_settings(project / "config.toml").database.url
    collect(project, cli_env())  # no broker in the environment: parsed in-process
    workers += [Worker(project, vhost, str(i)) for i in range(2)]
    for w in workers:
        w.wait_ready()
    through = new_database()  # type: ignore[operator]
    use_database(project, through)
    collect(project, env_for(vhost))
    expected = posts(inline)
    assert len(expected) >= 10 and posts(through) == expected
    assert sum(w.text().count("Task digest.parse_feed") for w in workers) >= 8


def test_a_worker_killed_mid_parse_does_not_lose_the_feed(
    project: Path, server: FeedServer, vhost: str, workers: list[Worker]
) -> None:
    add_feeds(project, server)
    markers = project / "faults"
    markers.mkdir()
    env = {FAULT_ENV: "kill-worker-once:rss20", FAULT_DIR_ENV: str(markers)}
    workers += [Worker(project, vhost, str(i), **env) for i in range(2)]
    for w in workers:
        w.wait_ready()
    collect(project, env_for(vhost))
    assert (markers / "kill-worker-once@rss20").exists()  # a worker died parsing it
    assert [w.proc.poll() is None for w in workers].count(False) == 1
    stored = posts(load_settings(project / "config.toml").database.url)
    assert {"rss20", "atom", "feed", "first"} <= {row[1] for row in stored}


def test_a_feed_that_kills_the_workers_parser_is_reported_not_requeued_forever(
    project: Path, server: FeedServer, vhost: str, workers: list[Worker]
) -> None:
    add_feeds(project, server)
    workers.append(Worker(project, vhost, "0", **{FAULT_ENV: "kill:rss20"}))
    workers[0].wait_ready()
    result = run_digest(project, "collect", "--json", env=env_for(vhost), timeout=WAIT)
    assert result.returncode == 0, result.stdout + result.stderr
    (error,) = json.loads(result.stdout)["errors"]
    assert error["source"] == "rss20"
    assert error["error"].startswith("a worker failed to parse it: WorkerLostError"), error
    assert workers[0].proc.poll() is None  # the worker lives on with a new pool process
    stored = {row[1] for row in posts(load_settings(project / "config.toml").database.url)}
    assert {"atom", "feed", "first", "rss10"} <= stored and "rss20" not in stored


def test_without_a_worker_on_the_queue_feeds_are_parsed_here(
    project: Path, server: FeedServer, vhost: str
) -> None:
    add_feeds(project, server)
    result = run_digest(project, "collect", "--json", env=env_for(vhost), timeout=WAIT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["errors"] == []
    assert "no digest worker takes queue parse-" in " ".join(result.stderr.split())
    stored = {row[1] for row in posts(load_settings(project / "config.toml").database.url)}
    assert {"rss20", "atom", "feed", "first", "rss10"} <= stored
