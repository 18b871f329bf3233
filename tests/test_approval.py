"""The approval gate, building ahead, and stopping a send on shutdown."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from digest.cli import main
from digest.config.load import load_settings
from digest.errors import DigestError, FrozenError
from digest.models import RenderedEmail
from digest.pipeline import Pipeline
from digest.scheduler import Scheduler

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


@pytest.fixture
def approval(project: Path) -> Path:
    config = project / "config.toml"
    text = config.read_text(encoding="utf-8").replace(
        'timezone = "America/New_York"\n\n[taxonomy]',
        'timezone = "America/New_York"\napproval = "required"\nbuild_ahead = "3d"\n\n[taxonomy]',
    )
    config.write_text(text, encoding="utf-8")
    return config


def cli(config: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["--config", str(config), *args])


def eml(project: Path) -> list[Path]:
    return list((project / "outbox").glob("weekly/*/*.eml"))


def test_unapproved_issue_is_held_then_sent_once_approved(approval: Path, project: Path) -> None:
    held = cli(approval, "schedule", "run-now", "weekly")
    assert "held (waiting for approval" in held.output
    assert not eml(project)
    assert "needs an editor's approval" in cli(approval, "send", "--list", "weekly").output
    approved = cli(approval, "approve", "weekly")
    assert approved.exit_code == 0 and "issue 1 approved" in approved.output
    again = cli(approval, "approve", "weekly")
    assert again.exit_code != 0 and "already approved" in again.output
    sent = cli(approval, "schedule", "run-now", "weekly")
    assert ": sent" in sent.output
    assert len(eml(project)) == 6
    runs = json.loads(cli(approval, "runs", "--json").output)
    outcomes = [(r["trigger"], r["outcome"]) for r in runs]  # every send path is a run
    assert outcomes == [("run-now", "sent"), ("send", "held"), ("run-now", "held")]


def test_approval_freezes_what_the_editor_saw(approval: Path) -> None:
    pipeline = Pipeline(load_settings(approval), clock=lambda: NOW)
    pipeline.collect()
    before = pipeline.build("weekly")
    issue = pipeline.approve("weekly", "editor@example.org")
    wto = next(p for p in before.digest.posts if "WTO" in p.title)
    with pytest.raises(FrozenError, match="list weekly: issue 1 is approved"):
        pipeline.store.posts.edit(wto.id, "exclude", None, "late-editor", NOW)
    after = pipeline.build("weekly")
    assert after.stored is not None and after.stored.status == "approved"
    assert [p.id for p in after.digest.posts] == [p.id for p in before.digest.posts]

    # the same bytes but for the placeholders' key, which is random per rendering
    def keyless(email: RenderedEmail) -> str:
        return email.html.replace(email.placeholders.key, "<key>")

    assert keyless(issue.email) == keyless(before.email)
    assert {s.key: keyless(s.email) for s in after.segments} == {
        s.key: keyless(s.email) for s in before.segments
    }


def test_scheduler_builds_ahead_once_when_due_soon(approval: Path) -> None:
    due = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # Monday 07:00 New York
    far = Pipeline(load_settings(approval), clock=lambda: due - timedelta(days=5))
    assert Scheduler(far).build_ahead() == []
    near = Pipeline(load_settings(approval), clock=lambda: due - timedelta(days=2))
    sched = Scheduler(near)
    assert sched.build_ahead() == ["weekly"]
    assert sched.build_ahead() == []  # once per period
    (run,) = near.store.runs.history("weekly")
    assert run.trigger == "build-ahead" and run.outcome == "prepared"
    assert "ready for approval" in (run.detail or "")
    assert near.build("weekly").stored is None  # still a draft editors can change


def test_halt_stops_a_send_and_resume_finishes_it(project: Path) -> None:
    pipeline = Pipeline(load_settings(project / "config.toml"), clock=lambda: NOW)
    pipeline.collect()
    pipeline.halt.set()  # SIGTERM arrived before the first chunk went out
    report = pipeline.send("weekly")
    assert report.outcome == "incomplete" and report.counts.get("planned") == 6
    assert not eml(project)
    resumed = Pipeline(load_settings(project / "config.toml"), clock=lambda: NOW)
    assert [r.outcome for r in resumed.resume("weekly")] == ["sent"]
    assert len(eml(project)) == 6


def test_a_fire_skipped_during_a_long_run_is_recorded_missed(project: Path) -> None:
    """APScheduler drops a fire while the list's last run goes on; we record it, loudly."""
    from digest.models import Window

    mondays = [datetime(2026, 11, d, 12, 0, tzinfo=UTC) for d in (2, 9, 16, 23)]  # 07:00 NY
    clock = {"now": mondays[3] + timedelta(minutes=1)}
    pipeline = Pipeline(load_settings(project / "config.toml"), clock=lambda: clock["now"])
    week0 = Window(mondays[0] - timedelta(days=7), mondays[0])
    run = pipeline.store.runs.claim("weekly", week0, "schedule", "x:1", mondays[0], timedelta(0))
    assert run is not None
    pipeline.store.runs.finish(run.id, "sent", mondays[0])
    Scheduler(pipeline).fire("weekly")
    by_end = {r.window.end.astimezone(UTC): r for r in pipeline.store.runs.history("weekly")}
    assert by_end[mondays[1]].outcome == "missed"
    assert "skipped while an earlier run was going" in (by_end[mondays[1]].detail or "")
    assert mondays[2] not in by_end  # the period just before may be another scheduler's
    assert by_end[mondays[3]].trigger == "schedule" and by_end[mondays[3]].outcome != "running"


def test_an_issue_with_no_posts_cannot_be_approved(approval: Path, project: Path) -> None:
    nothing = cli(approval, "approve", "weekly")  # nothing collected yet
    assert nothing.exit_code == 1, nothing.output
    assert "list weekly: issue 1 has no posts to send" in nothing.output
    assert "digest collect" in nothing.output
    pipeline = Pipeline(load_settings(approval), clock=lambda: NOW)
    pipeline.collect()
    posts = pipeline.build("weekly").digest.posts
    for post in posts:
        pipeline.store.posts.edit(post.id, "exclude", None, "editor", NOW)
    with pytest.raises(DigestError, match="issue 1 has no posts") as refused:
        pipeline.approve("weekly", "editor@example.org")
    assert "digest posts include" in (refused.value.hint or "")
    assert pipeline.build("weekly").stored is None  # nothing frozen, nothing logged
    pipeline.store.posts.edit(posts[0].id, "include", None, "editor", NOW)
    issue = pipeline.approve("weekly", "editor@example.org")
    assert issue.status == "approved" and pipeline.build("weekly").digest.posts == (posts[0],)
    sent = pipeline.send("weekly")
    assert sent.outcome == "sent" and len(eml(project)) == 6


def test_a_list_that_sends_empty_issues_can_approve_one(approval: Path, project: Path) -> None:
    text = approval.read_text(encoding="utf-8")
    approval.write_text(
        text.replace('approval = "required"', 'approval = "required"\nskip_if_empty = false'),
        encoding="utf-8",
    )
    approved = cli(approval, "approve", "weekly")
    assert approved.exit_code == 0 and "issue 1 approved" in approved.output
