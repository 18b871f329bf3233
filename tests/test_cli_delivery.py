"""The delivery commands end to end: send's report, resume, resolve-unknown, test sends, issues."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .cli_helpers import cli_env, run_digest
from .delivery_helpers import API_KEY, SIGNING_KEY, use_backend, write_roster
from .fake_sendgrid import FakeSendGrid


def digest(project: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = cli_env(SENDGRID_API_KEY=API_KEY, DIGEST_SIGNING_KEY=SIGNING_KEY)
    return run_digest(project, *args, stdin=stdin, env=env)


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid(API_KEY) as server:
        yield server


def test_send_reports_logs_progress_and_issues_show_tells_it_again(project: Path) -> None:
    assert digest(project, "collect").returncode == 0
    sent = digest(project, "send", "--list", "weekly")
    assert sent.returncode == 0, sent.stderr
    assert "weekly: issue 1 sent: accepted 6" in sent.stdout
    assert "sending weekly: 6/6" in sent.stderr  # not a terminal: log lines, no bar
    nothing = digest(project, "send", "--list", "weekly", "--resume")
    assert "no unfinished issue; nothing to resume" in nothing.stdout
    shown = digest(project, "issues", "show", "1")
    assert shown.returncode == 0 and "accepted 6" in shown.stdout
    data = json.loads(digest(project, "issues", "show", "1", "--json").stdout)
    assert data["counts"] == {"accepted": 6} and data["status"] == "sent"
    missing = digest(project, "issues", "show", "9")
    assert missing.returncode == 3 and "no issue number 9" in missing.stderr


def test_unknown_recipients_are_reported_and_resolved_only_when_ops_say(
    project: Path, fake: FakeSendGrid
) -> None:
    write_roster(project, 30)
    use_backend(project, "sendgrid", host=fake.url, batch_size=10, workers=1)
    assert digest(project, "collect").returncode == 0
    fake.script("ok", "drop")
    sent = digest(project, "send", "--list", "weekly")
    assert sent.returncode == 1
    assert "unknown 10: the request went out but no answer came back" in sent.stdout
    assert "--resolve-unknown resend|skip" in sent.stdout
    declined = digest(project, "send", "--list", "weekly", "--resolve-unknown", "skip", stdin="n\n")
    assert declined.returncode == 1 and "reader00011@example.org" in declined.stdout
    skipped = digest(project, "send", "--list", "weekly", "--resolve-unknown", "skip", "--yes")
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr
    assert "10 recipients marked skipped" in skipped.stdout
    shown = digest(project, "issues", "show", "1")
    assert "accepted 20, skipped 10" in shown.stdout
    assert set(fake.received.values()) == {1} and len(fake.received) == 30


def test_outbox_test_sends_are_kept_apart_from_the_issues_messages(project: Path) -> None:
    assert digest(project, "collect").returncode == 0
    tested = digest(project, "send", "--list", "weekly", "--test", "ed@example.org")
    assert tested.returncode == 0, tested.stderr
    assert digest(project, "send", "--list", "weekly").returncode == 0
    outbox = project / "outbox" / "weekly"
    (test,) = (outbox / "tests").rglob("*.eml")
    assert test.read_bytes().count(b"Subject: [TEST] ") == 1
    (issue,) = [d for d in outbox.iterdir() if d.name != "tests"]
    assert test.parent.name == issue.name  # tests/<issue>/
    real = sorted(p.name for p in issue.iterdir())
    assert len(real) == 6 and not [n for n in real if n.startswith("0000000-")]
    assert all(b"[TEST]" not in p.read_bytes() for p in issue.iterdir())
    assert str(outbox / "tests") in tested.stdout + tested.stderr  # where it went


def test_a_test_send_goes_only_to_the_given_addresses(project: Path, fake: FakeSendGrid) -> None:
    use_backend(project, "sendgrid", host=fake.url)
    assert digest(project, "collect").returncode == 0
    result = digest(
        project, "send", "--list", "weekly", "--test", "ed@example.org, Chief@Example.NET"
    )
    assert result.returncode == 0, result.stderr
    assert "[TEST] copy of issue 1: accepted 2" in result.stdout
    (request,) = fake.requests
    assert request.body["subject"].startswith("[TEST] ")
    assert sorted(request.emails) == ["Chief@example.net", "ed@example.org"]
    assert digest(project, "issues", "show", "1").returncode == 3  # nothing was frozen
    bad = digest(project, "send", "--list", "weekly", "--test", "not-an-address")
    assert bad.returncode == 2 and "--test" in bad.stderr
