"""The one-run-per-period claim, schedule overrides, and the ops commands that use them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from click.testing import CliRunner

from digest.cli import main
from digest.models import Window
from digest.store import Store

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
WEEK = Window(T0 - timedelta(days=7), T0)
LEASE = timedelta(minutes=2)


@pytest.fixture
def store(database_url: str) -> Store:
    return Store(database_url)


def test_only_one_claim_per_period(store: Store) -> None:
    first = store.runs.claim("weekly", WEEK, "schedule", "a:1", T0, LEASE)
    assert first is not None and first.outcome == "running"
    assert store.runs.claim("weekly", WEEK, "run-now", "b:2", T0, LEASE) is None
    assert store.runs.claim("daily", WEEK, "schedule", "b:2", T0, LEASE) is not None
    store.runs.finish(first.id, "sent", T0, counts={"accepted": 3}, issue_number=1)
    assert store.runs.claim("weekly", WEEK, "run-now", "b:2", T0 + LEASE * 2, LEASE) is None
    assert store.runs.claimed("weekly", WEEK) == "sent"
    assert [r.outcome for r in store.runs.history("weekly")] == ["sent"]


def test_stale_lease_can_be_taken_over(store: Store) -> None:
    dead = store.runs.claim("weekly", WEEK, "schedule", "a:1", T0, LEASE)
    assert dead is not None
    assert store.runs.claim("weekly", WEEK, "schedule", "b:2", T0 + LEASE / 2, LEASE) is None
    taken = store.runs.claim("weekly", WEEK, "resume", "b:2", T0 + LEASE * 2, LEASE)
    assert taken is not None and taken.trigger == "resume"


def test_held_and_failed_may_run_again_missed_only_by_hand(store: Store) -> None:
    for outcome in ("held", "failed"):
        run = store.runs.claim("weekly", WEEK, "schedule", "a:1", T0, LEASE)
        assert run is not None
        store.runs.finish(run.id, outcome, T0)
    run = store.runs.claim("weekly", WEEK, "schedule", "a:1", T0, LEASE)
    assert run is not None
    store.runs.finish(run.id, "sent", T0)
    assert not store.runs.record_missed("weekly", WEEK, T0, "down")  # a sent period stays sent
    other = Window(T0, T0 + timedelta(days=7))
    assert store.runs.record_missed("weekly", other, T0, "down")
    assert store.runs.claimed("weekly", other) == "missed"
    assert store.runs.claim("weekly", other, "schedule", "a:1", T0, LEASE) is None
    assert store.runs.claim("weekly", other, "run-now", "a:1", T0, LEASE, retake=("missed",))


@pytest.fixture
def cli(project: Path) -> Any:
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(main, ["--config", str(project / "config.toml"), *args])

    return run


def test_schedule_show_next_runs_in_the_crontab_sense(cli: Any) -> None:
    with time_machine.travel(datetime(2026, 11, 27, 17, 0, tzinfo=UTC), tick=False):
        result = cli("schedule", "show", "--json")
    assert result.exit_code == 0, result.output
    (weekly,) = json.loads(result.output)["lists"]
    assert weekly["schedule"] == "0 7 * * 1" and weekly["timezone"] == "America/New_York"
    assert [r["local"] for r in weekly["next_runs"]] == [
        "2026-11-30T07:00:00-05:00",
        "2026-12-07T07:00:00-05:00",
        "2026-12-14T07:00:00-05:00",
    ]
    assert weekly["next_runs"][0]["utc"] == "2026-11-30T12:00:00+00:00"
    assert weekly["paused"] is False and weekly["last_run"] is None


def test_schedule_show_across_spring_forward(cli: Any) -> None:
    with time_machine.travel(datetime(2027, 3, 5, 12, 0, tzinfo=UTC), tick=False):
        (weekly,) = json.loads(cli("schedule", "show", "--json").output)["lists"]
    assert [r["utc"] for r in weekly["next_runs"]] == [
        "2027-03-08T12:00:00+00:00",  # EST
        "2027-03-15T11:00:00+00:00",  # EDT from March 14
        "2027-03-22T11:00:00+00:00",
    ]


def test_pause_set_and_resume(cli: Any) -> None:
    assert cli("schedule", "pause", "weekly").exit_code == 0
    (weekly,) = json.loads(cli("schedule", "show", "--json").output)["lists"]
    assert weekly["paused"] is True and weekly["next_runs"] == []
    assert (
        cli("schedule", "set", "weekly", "30 6 * * 5", "--timezone", "Europe/Berlin").exit_code == 0
    )
    assert cli("schedule", "resume", "weekly").exit_code == 0
    with time_machine.travel(datetime(2026, 11, 23, 12, 0, tzinfo=UTC), tick=False):
        (weekly,) = json.loads(cli("schedule", "show", "--json").output)["lists"]
    assert weekly["schedule"] == "30 6 * * 5" and weekly["timezone"] == "Europe/Berlin"
    assert weekly["next_runs"][0]["local"] == "2026-11-27T06:30:00+01:00"
    bad = cli("schedule", "set", "weekly", "30 6 * * 9")
    assert bad.exit_code == 2 and "bad day-of-week item '9'" in bad.output


def test_run_now_twice_sends_once(cli: Any, project: Path) -> None:
    first = cli("schedule", "run-now", "weekly")
    assert first.exit_code == 0, first.output
    assert ": sent" in first.output
    second = cli("schedule", "run-now", "weekly")
    assert "already handled (sent)" in second.output
    runs = json.loads(cli("runs", "--json").output)
    assert [r["outcome"] for r in runs] == ["sent"]
    assert runs[0]["counts"]["accepted"] == 6 and runs[0]["trigger"] == "run-now"
    assert len(list((project / "outbox").glob("weekly/*/*.eml"))) == 6
    # the manual main job in the same period agrees: nothing more to send
    assert "already sent" in cli("run").output


def test_run_now_with_no_posts_is_skipped(cli: Any, project: Path) -> None:
    for post in (project / "posts").iterdir():
        post.unlink()
    config = project / "config.toml"
    config.write_text(
        config.read_text().replace("optional = true", "optional = true\nenabled = false")
    )
    result = cli("schedule", "run-now", "weekly")
    assert "skipped (no posts)" in result.output
    assert json.loads(cli("runs", "--json").output)[0]["detail"] == "no posts"
    assert not (project / "outbox").exists()
