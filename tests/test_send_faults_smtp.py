"""SMTP fault test: the real CLI SIGKILLed at 20 points of a send to a real aiosmtpd relay.

What is guaranteed, and asserted after every kill (``workers`` connections in flight):
- every message the relay received is recorded ``accepted`` or ``unknown``: nobody the relay
  got is left ``planned``, so a resume never sends anyone a second copy by itself;
- every ``accepted`` row was received;
- at most one message per connection, the one in flight, is ``unknown``; a row never
  attempted is never ``unknown`` (it is planned again);
- so a blind ``skip`` of the unknowns can drop at most that many readers, each one whose
  message was in flight, and a blind ``resend`` can duplicate at most that many.
Ops then decide per recipient (``--resolve-unknown`` with ``--recipients``): ``skip`` for
those the relay's log shows, ``resend`` for the others, and on alternate kills a blind
``resend`` of all. At the end everyone received the issue, and only readers resent while
``unknown`` got it twice.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.config.load import load_settings
from digest.pipeline import Pipeline

from .cli_helpers import cli_env, start_digest
from .delivery_helpers import SIGNING_KEY, use_backend, write_roster
from .smtp_relay import KillingRelay, start_relay

SUBSCRIBERS, WORKERS, KILLS = 1000, 2, 20
BY_CLI = 10
DEADLINE = 600
"""For waits that must not run out: a process finishing its part of the send."""
"""The kill after which unknowns are read and resolved with the CLI (in process otherwise)."""


def small_issue(project: Path) -> None:
    """One post and no shared samples: small messages keep the test fast."""
    config = project / "config.toml"
    text = config.read_text(encoding="utf-8")
    text = re.sub(r'\[\[sources\]\]\nname = "fpb-samples"\n(.*\n){3}', "", text)
    config.write_text(text, encoding="utf-8")
    for extra in sorted((project / "posts").iterdir())[1:]:
        extra.unlink()


@pytest.fixture
def relay() -> Iterator[KillingRelay]:
    handler, controller = start_relay()
    handler.port = controller.port  # type: ignore[attr-defined]
    yield handler
    controller.stop()


def cli(project: Path, *args: str) -> subprocess.Popen[str]:
    return start_digest(project, *args, env=cli_env(DIGEST_SIGNING_KEY=SIGNING_KEY))


def statuses(p: Pipeline, issue_id: int) -> dict[str, str]:
    from sqlalchemy import select

    from digest.store.schema import deliveries

    with p.store.engine.connect() as conn:
        rows = conn.execute(
            select(deliveries.c.email, deliveries.c.status).where(deliveries.c.issue_id == issue_id)
        ).all()
    return {e: s for e, s in rows}


def test_killed_at_20_points_of_an_smtp_send_unknowns_stay_per_message(
    project: Path, relay: KillingRelay
) -> None:
    emails = write_roster(project, SUBSCRIBERS)
    small_issue(project)
    config = use_backend(
        project, "smtp", host="127.0.0.1", port=relay.port, security="none",  # type: ignore[attr-defined]
        batch_size=50, workers=WORKERS, timeout=300.0, backoff=0.001, backoff_max=0.01,
    )  # fmt: skip
    # a killed sender's claim is taken over once its lease runs out (no pid checks): keep the
    # lease short and let each resume wait for it
    config.write_text(config.read_text() + '\n[scheduler]\nlease = "2s"\n', encoding="utf-8")
    p = Pipeline(load_settings(config))
    p.collect()
    blind: Counter[str] = Counter()  # readers resent while unknown, received or not
    skipped: set[str] = set()
    unknown_per_kill: list[int] = []
    step = SUBSCRIBERS // (KILLS + 2)
    for kill in range(KILLS):
        before = Counter(relay.received)
        relay.mode = ("data", "rcpt")[kill % 2]
        relay.kill_at = relay.total + step - 7 + (kill * 5) % 15
        resume = ["--resume", "--wait", "10m"] if kill else []
        proc = cli(project, "send", "--list", "weekly", *resume)
        relay.victim = proc.pid
        code = proc.wait(DEADLINE)
        out, err = proc.communicate()
        assert code == -signal.SIGKILL, f"the send ended before kill {kill}: {out}{err}"
        relay.settle()
        got = relay.received - before  # what the relay received in this run
        (issue,) = p.unfinished("weekly")
        p.store.issues.interrupted(issue.id, False, p.clock())  # as the next run does first
        state = statuses(p, issue.id)
        assert set(state.values()) <= {"planned", "accepted", "unknown", "skipped"}
        for email in got:
            assert state[email] in ("accepted", "unknown"), f"{email} received, left {state[email]}"
        accepted = {e for e, s in state.items() if s == "accepted"}
        assert accepted <= set(relay.received), "accepted but never received"
        unknown = [e for e, s in state.items() if s == "unknown"]
        unknown_per_kill.append(len(unknown))
        assert len(unknown) <= WORKERS, f"{len(unknown)} unknown with {WORKERS} connections"
        if kill == BY_CLI:  # as ops would: read them with the CLI, decide per recipient
            shown = cli(project, "issues", "show", "1", "--json")
            data = json.loads(shown.communicate(timeout=DEADLINE)[0])
            assert sorted(r["email"] for r in data["unknown_recipients"]) == sorted(unknown)
        received = [e for e in unknown if e in got]
        if kill % 2:  # blind: resend all of them, received or not
            resend, skip = unknown, []
        else:  # informed by the relay's log
            resend, skip = [e for e in unknown if e not in got], received
        blind.update(e for e in resend if e in relay.received)
        if skip:
            skipped.update(skip)
            if kill == BY_CLI:
                listed = project / "skip.txt"
                listed.write_text("\n".join(skip) + "\n", encoding="utf-8")
                resolved = cli(
                    project, "send", "--list", "weekly", "--resolve-unknown", "skip",
                    "--recipients", f"@{listed}", "--yes",
                )  # fmt: skip
                said = resolved.communicate(timeout=DEADLINE)[0]
                assert f"{len(skip)} recipients marked skipped" in said, said
            else:
                p.resolve_unknown("weekly", False, emails=tuple(skip))
        if resend:
            p.resolve_unknown("weekly", True, emails=tuple(resend))
        assert not p.store.issues.unknown_recipients(issue.id)
    relay.kill_at = None
    final = cli(project, "send", "--list", "weekly", "--resume", "--wait", "10m")
    out, err = final.communicate(timeout=DEADLINE)
    assert final.returncode == 0, out + err
    assert p.unfinished("weekly") == []
    assert sorted(relay.received) == emails, "someone never received the issue"
    twice = {e for e, n in relay.received.items() if n > 1}
    assert twice <= set(blind), "a duplicate outside the unknowns resent blindly"
    assert all(relay.received[e] <= 1 + blind[e] for e in emails)
    assert skipped <= set(relay.received), "a skip dropped someone the relay never got"
    assert sum(unknown_per_kill) <= WORKERS * KILLS
