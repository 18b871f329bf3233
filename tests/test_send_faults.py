"""Fault tests: the real CLI SIGKILLed at 22 points of a 5,000-recipient send, then resumed.

The fake SendGrid kills the sending process when a chosen request arrives (before its body is
read), after it recorded a request but before answering, or right after answering. After each
kill nobody has the issue twice; chunks that were in flight are ``unknown``; ops' decision
(here taken from the fake's records, as ops would from SendGrid's activity feed) resolves
them; and at the end every recipient has been accepted exactly once.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.config.load import load_settings
from digest.pipeline import Pipeline

from .cli_helpers import cli_env, start_digest
from .delivery_helpers import API_KEY, SIGNING_KEY, use_backend, write_roster
from .fake_sendgrid import Action, FakeSendGrid

MODES = ("kill-before", "kill-after", "kill-after-response")
KILLS = 22
BATCH = 40
"""5,000 recipients make 125 chunks. A cycle lets through at most its 2 scripted "ok"s, the
chunk it is killed on, and what the other worker had in flight: 22 kills never use them all up,
however the two workers' requests interleave, so every cycle must end in its kill."""
DEADLINE = 600
"""For waits that must not run out: a process finishing, or its 5,000-recipient send."""


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid(API_KEY) as server:
        yield server


def cli(project: Path, *args: str) -> subprocess.Popen[str]:
    return start_digest(
        project, *args, env=cli_env(SENDGRID_API_KEY=API_KEY, DIGEST_SIGNING_KEY=SIGNING_KEY)
    )


def resolve_like_ops(pipeline: Pipeline, fake: FakeSendGrid) -> None:
    """Skip unknown chunks SendGrid accepted; resend the ones it never saw."""
    went_out = fake.chunks()
    for issue in pipeline.unfinished("weekly"):
        chunks = {u.chunk for u in pipeline.store.issues.unknown(issue.id)}
        if chunks & went_out:
            pipeline.resolve_unknown("weekly", False, tuple(chunks & went_out))
        if chunks - went_out:
            pipeline.resolve_unknown("weekly", True, tuple(chunks - went_out))


def test_killed_at_many_points_and_resumed_everyone_gets_it_exactly_once(
    project: Path, fake: FakeSendGrid
) -> None:
    emails = write_roster(project, 5000)
    config = use_backend(
        project, "sendgrid", host=fake.url, batch_size=BATCH, workers=2, timeout=120.0,
        backoff=0.001, backoff_max=0.01,
    )  # fmt: skip
    # a killed sender's claim is taken over once its lease runs out (no pid checks): keep the
    # lease short and let each resume wait for it
    config.write_text(config.read_text() + '\n[scheduler]\nlease = "2s"\n', encoding="utf-8")
    collected = cli(project, "collect")
    assert collected.wait(DEADLINE) == 0, collected.communicate()
    pipeline = Pipeline(load_settings(config))
    for cycle in range(KILLS):
        fake.script(*["ok"] * (cycle % 3), Action(MODES[cycle % len(MODES)]))
        resume = ["--resume", "--wait", "10m"] if cycle else []
        proc = cli(project, "send", "--list", "weekly", *resume)
        fake.victim = proc.pid
        code = proc.wait(DEADLINE)
        fake.actions.clear()
        assert code == -signal.SIGKILL, f"kill {cycle + 1}: the send ended ({code}) before it"
        fake.settle()  # requests the dead process left in flight land (or not) first
        assert max(fake.received.values(), default=0) <= 1, "a recipient got the issue twice"
        (issue,) = pipeline.unfinished("weekly")
        pipeline.store.issues.interrupted(issue.id, False, pipeline.clock())  # as a resume does
        counts = pipeline.store.issues.counts(issue.id)
        assert not counts.get("submitted")
        assert sum(counts.values()) == 5000
        accepted = counts.get("accepted", 0) + counts.get("skipped", 0)
        assert accepted <= len(fake.received)
        resolve_like_ops(pipeline, fake)
    final = cli(project, "send", "--list", "weekly", "--resume", "--wait", "10m")
    out, errors = final.communicate(timeout=DEADLINE)
    assert final.returncode == 0, out + errors
    assert fake.violations == []
    assert sorted(fake.received) == emails
    assert set(fake.received.values()) == {1}
    assert pipeline.unfinished("weekly") == []
