"""What a newcomer sees on the sample project: links that resolve, messages that name things."""

from __future__ import annotations

import email
import email.policy
import html
import json
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import time_machine
from click.testing import CliRunner

from digest.cli import main
from digest.config.load import load_settings
from digest.pipeline import Pipeline
from digest.web.desk.view import archive_rows
from tests.cli_helpers import cli_env, run_digest, serving
from tests.conftest import needs_shared
from tests.desk_setup import NOW, open_desk
from tests.email_helpers import html_part

KEY = "flow-tests-signing-key-0123456789abcdef"


def test_view_in_browser_from_a_delivered_message_resolves_on_digest_serve(
    project: Path, edit_config: Callable[[str, str], Path]
) -> None:
    edit_config(r"^base_url = .*$", 'base_url = "https://news.example.org/digest"')
    sent = run_digest(project, "run", env=cli_env(DIGEST_SIGNING_KEY=KEY))
    assert sent.returncode == 0, sent.stderr
    eml = sorted((project / "outbox").glob("weekly/*/*.eml"))[0]
    body = html_part(eml.read_bytes())
    (link,) = {
        html.unescape(m) for m in re.findall(r'<a href="([^"]+)"[^>]*>View in browser</a>', body)
    }
    assert link == "https://news.example.org/digest/archive/weekly/1.html"
    with (
        serving(project, cli_env(DIGEST_SIGNING_KEY=KEY)) as origin,
        httpx.Client(base_url=origin, timeout=60) as web,
    ):
        page = web.get(urlsplit(link).path)
        assert page.status_code == 200
        assert "text/html" in page.headers["content-type"]
        assert "<h1>Policy Blogs Weekly</h1>" in page.text and "Issue 1" in page.text
        assert "unsafe-inline" in page.headers["content-security-policy"]  # its own <style>
        index = web.get("/digest/archive/weekly/")
        assert index.status_code == 200 and "1.html" in index.text
        # only files inside the archive folder: no traversal, no dotfiles, no other tree
        (project / "archive" / "weekly" / ".1.html.half.tmp").write_text("half")
        for path in (
            "/digest/archive/weekly/.1.html.half.tmp",
            "/digest/archive/../config.toml",
            "/digest/archive/%2e%2e/config.toml",
            "/digest/archive/weekly/..%2f..%2fconfig.toml",
            "/archive/weekly/1.html",  # outside base_url's path
        ):
            r = web.get(path)
            assert r.status_code == 404, path
            assert "[newsletter]" not in r.text


def test_missing_subscriber_file_is_a_configuration_error_naming_the_key(project: Path) -> None:
    (project / "subscribers" / "weekly.csv").unlink()
    result = run_digest(project, "send", "--list", "weekly", "--dry-run")
    assert result.returncode == 2, result.stderr
    assert "weekly.csv: subscriber file not found" in result.stderr
    assert "check [[lists]] subscribers" in result.stderr


def test_unknown_issue_number_names_the_list_not_its_id(project: Path) -> None:
    result = run_digest(project, "issues", "show", "99")
    assert result.returncode == 3
    assert "list weekly: no issue number 99" in result.stderr
    assert "list 1" not in result.stderr


def test_an_issue_is_dated_the_day_it_goes_out_and_keyed_by_its_period(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_SIGNING_KEY", KEY)
    wednesday = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # 10:00 in New York; period ends 7 Dec
    with time_machine.travel(wednesday, tick=False):
        result = CliRunner().invoke(main, ["--config", str(project / "config.toml"), "run"])
    assert result.exit_code == 0, result.output
    (folder,) = (project / "outbox" / "weekly").iterdir()
    assert folder.name == "2026-12-07-1"  # the period stays the key
    eml = sorted(folder.glob("*.eml"))[0]
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    text = message.get_body(("plain",))
    assert text is not None and "Issue 1 - December 2, 2026" in text.get_content()
    assert "Issue 1 &middot; December 2, 2026" in html_part(eml.read_bytes())
    page = (project / "archive" / "weekly" / "1.html").read_text()
    assert "Issue 1 &middot; December 2, 2026" in page and "December 7" not in page
    index = json.loads((project / "archive" / "weekly" / "issues.json").read_text())
    assert index["issues"][0]["date"] == "December 2, 2026"
    pipeline = Pipeline(load_settings(project / "config.toml"))
    try:
        (row,) = archive_rows(pipeline, "weekly")  # the desk's list of past issues
    finally:
        pipeline.close()
    assert row.date == "2 Dec 2026"


def test_build_and_send_on_an_empty_store_say_to_collect_first(project: Path) -> None:
    dry = run_digest(project, "send", "--list", "weekly", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "no new posts" in dry.stdout
    assert "nothing has been collected yet; send does not collect" in dry.stderr
    assert "digest collect" in dry.stderr
    built = run_digest(project, "build")
    assert built.returncode == 0, built.stderr
    assert "0 posts" in built.stdout
    assert "nothing has been collected yet; build does not collect" in built.stderr
    assert run_digest(project, "collect").returncode == 0
    again = run_digest(project, "build")
    assert re.search(r"issue 1, [1-9]\d* posts", again.stdout)
    assert "nothing has been collected" not in again.stderr


def test_skipped_files_show_in_source_health_and_fail_strict(project: Path) -> None:
    needs_shared()  # counts on the sample post from ../shared
    for name in ("a", "b", "c"):
        (project / "posts" / f"broken-{name}.md").write_text("---\ntitle: [unclosed\n---\nBody.\n")
    strict = run_digest(project, "collect", "--strict")
    assert strict.returncode == 1, strict.stdout
    health = run_digest(project, "sources", "--json")
    rows = {r["name"]: r for r in json.loads(health.stdout)}
    posts = rows["network-posts"]
    assert posts["status"] == "skipped items"
    assert posts["last_error"].startswith("skipped 3: ")
    assert "broken-a.md" in posts["last_error"] and "(and 2 more)" in posts["last_error"]
    assert posts["consecutive_failures"] == 0 and posts["last_success"]
    table = run_digest(project, "sources", env=cli_env(COLUMNS="250"))
    assert "skipped items" in table.stdout and "skipped 3" in table.stdout
    for name in ("a", "b", "c"):
        (project / "posts" / f"broken-{name}.md").unlink()
    assert run_digest(project, "collect", "--strict").returncode == 0
    rows = {r["name"]: r for r in json.loads(run_digest(project, "sources", "--json").stdout)}
    assert rows["network-posts"]["status"] == "ok" and rows["network-posts"]["last_error"] is None


def test_summarize_reads_a_post_file_as_the_digest_does(project: Path) -> None:
    assert run_digest(project, "collect").returncode == 0
    built = json.loads(run_digest(project, "build", "--json").stdout)
    summaries = {p["title"]: p["summary"] for s in built["sections"] for p in s["posts"]}
    files = ["posts/wto-reform.md", "posts/asean-south-china-sea.txt"]  # links; a blog page
    result = run_digest(project, "summarize", *files)
    assert result.returncode == 0, result.stderr
    got = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    for file in files:
        assert got[file] in summaries.values(), (file, got[file])
        assert "---" not in got[file] and "](" not in got[file] and "title:" not in got[file]


def test_a_dateless_post_is_never_shown_as_published_when_collected(project: Path) -> None:
    undated = project / "posts" / "undated-note.md"
    undated.write_text(
        "---\ntitle: An Undated Note on Port Logistics\nauthor: Maya Okafor\n---\n\n"
        "Shipping schedules across the region slipped again this month. Ports blamed the "
        "weather, carriers blamed the ports, and shippers paid for both.\n"
    )
    assert run_digest(project, "collect").returncode == 0
    listed = json.loads(run_digest(project, "posts", "list", "--json").stdout)
    by_title = {p["title"]: p for p in listed}
    note = by_title["An Undated Note on Port Logistics"]
    assert note["published"] is None and note["collected_at"]
    table = run_digest(project, "posts", "list", env=cli_env(COLUMNS="250")).stdout
    (row,) = [line for line in table.splitlines() if "An Undated Note" in line]
    assert "undated" in row and not re.search(r"\d{4}-\d\d-\d\d", row)
    collected = json.loads(run_digest(project, "collect", "--json").stdout)["posts"]
    (again,) = [p for p in collected if p["title"] == note["title"]]
    assert again["published"] is None


def test_the_desk_calls_a_dateless_post_undated(
    project: Path, live_server: Callable[[Any], str]
) -> None:
    site = open_desk(project, live_server)  # every sample Markdown post carries no date
    with site.client() as client:
        page = client.get("/lists/weekly")
    assert page.status_code == 200
    meta = re.findall(r'<p class="meta">(.*?)</p>', page.text, flags=re.S)
    posts = [m for m in meta if "Section:" in m]
    assert posts and all("undated" in m for m in posts)
    assert not any(NOW.strftime("%-d %b %Y") in m for m in posts)  # the collection day


def test_posts_list_shows_the_section_each_post_sits_in(project: Path) -> None:
    assert run_digest(project, "collect").returncode == 0
    built = json.loads(run_digest(project, "build", "--json").stdout)
    sections = {p["id"]: s["area"] for s in built["sections"] for p in s["posts"]}
    listed = json.loads(run_digest(project, "posts", "list", "--json").stdout)
    assert {p["id"]: p["section"] for p in listed} == sections
    arctic = next(p for p in listed if p["title"].startswith("Arctic Shipping"))
    assert arctic["section"] == "International Politics"  # "IR" in its file
    assert "IR" not in arctic["areas"]
    table = run_digest(project, "posts", "list", env=cli_env(COLUMNS="250")).stdout
    (row,) = [line for line in table.splitlines() if "Arctic Shipping" in line]
    assert "International Politics" in row and "IR;" not in row


def test_run_now_says_what_it_sent_and_where_and_runs_shows_both_zones(project: Path) -> None:
    first = run_digest(project, "schedule", "run-now", "weekly")
    assert first.returncode == 0, first.stderr
    folder = project / "outbox" / "weekly"
    (issue,) = folder.iterdir()
    assert f"weekly: issue 1: accepted 6 via outbox {issue}" in first.stdout
    runs = run_digest(project, "runs", env=cli_env(COLUMNS="250")).stdout
    (row,) = [line for line in runs.splitlines() if "run-now" in line]
    end = issue.name.rsplit("-", 1)[0]
    assert re.search(rf"{end}T07:00:00-05:00 / {end}T12:00:00\+00:00", row), row


def test_a_scheduler_stopped_while_idle_does_not_claim_a_run_under_way(
    project: Path, edit_config: Callable[[str, str], Path]
) -> None:
    edit_config(r'^schedule = "0 7 \* \* 1".*$', 'schedule = "0 7 1 1 *"')  # nothing due now
    proc = subprocess.Popen(
        [sys.executable, "-m", "digest", "scheduler"],
        cwd=project,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    watchdog = threading.Timer(600, proc.kill)  # never hang the suite; a busy machine is slow
    watchdog.start()
    try:
        assert proc.stdout is not None
        seen = [proc.stdout.readline()]
        while "running; SIGTERM" not in seen[-1] and seen[-1]:
            seen.append(proc.stdout.readline())
        assert "running; SIGTERM" in seen[-1], "".join(seen)
        proc.send_signal(signal.SIGTERM)
        rest = proc.stdout.read()
        assert proc.wait(timeout=600) == 0
    finally:
        watchdog.cancel()
    assert "stopping: no run under way" in rest
    assert "finishing the run under way" not in rest
