"""Every send path takes one (list, period) claim: real CLI processes, real SMTP, one SQLite file.

``digest run``, ``digest send``, ``digest schedule run-now`` and the scheduler race for the same
period; one sends, the others wait (``--wait``) or exit 4 naming the holder, and nobody marks
the holder's in-flight rows ``unknown`` (issue 14 items 7 and 8). Every send is a recorded run
(issue 15 item 4). The SMTP server holds the first message until the test has seen what it
waits for, so the races are made certain by events, not by timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from digest.config.load import load_settings
from digest.pipeline import Pipeline
from digest.store import Store
from digest.store.schema import deliveries, issues, runs

from .cli_helpers import cli_env, run_digest
from .delivery_helpers import SIGNING_KEY, use_backend, write_roster
from .test_smtp import READY, free_port

DEADLINE = 600.0
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.M | re.I)


class GatedRelay:
    """An aiosmtpd handler that counts what it receives and holds DATA until ``gate`` is set."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.arrived = threading.Event()
        """Set when the first message reached the server (and waits at the gate)."""
        self.received: Counter[str] = Counter()
        self.copies: Counter[tuple[str, bytes]] = Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.arrived.set()
        while not self.gate.is_set():
            await asyncio.sleep(0.02)
        found = MESSAGE_ID.search(envelope.original_content or b"")
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.received[rcpt] += 1
                self.copies[(rcpt, found.group(1) if found else b"")] += 1
        return "250 Message accepted"


@pytest.fixture
def relay() -> Iterator[tuple[GatedRelay, int]]:
    handler = GatedRelay()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=READY)
    controller.start()
    try:
        yield handler, port
    finally:
        handler.gate.set()
        controller.stop()


def smtp_project(project: Path, port: int, subscribers: int, extra: str = "") -> list[str]:
    """Point the project at the relay (no TLS, roomy timeout) with ``subscribers`` readers."""
    emails = write_roster(project, subscribers)
    config = use_backend(
        project, "smtp", host="127.0.0.1", port=port, security="none", timeout=300.0
    )
    config.write_text(config.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return emails


def env() -> dict[str, str]:
    return cli_env(DIGEST_SIGNING_KEY=SIGNING_KEY)


def start(project: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "digest", *args],
        cwd=project,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def table(store: Store, t: Any) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(t)).mappings()]


def store_of(project: Path) -> Store:
    return Store(load_settings(project / "config.toml").database.url)


def assert_each_once(relay: GatedRelay, emails: list[str], store: Store) -> None:
    """One issue, sent, every reader accepted exactly once and received exactly once."""
    assert sorted(relay.received) == emails
    assert set(relay.received.values()) == {1}
    (issue,) = table(store, issues)
    assert issue["status"] == "sent"
    statuses = Counter(r["status"] for r in table(store, deliveries))
    assert statuses == {"accepted": len(emails)}


SENDERS = (
    ("run",),
    ("send", "--list", "weekly"),
    ("schedule", "run-now", "weekly"),
)


def test_run_send_and_run_now_at_once_one_sends_the_others_exit_4(
    project: Path, relay: tuple[GatedRelay, int]
) -> None:
    handler, port = relay
    emails = smtp_project(project, port, 2000)
    assert run_digest(project, "collect", env=env()).returncode == 0
    procs = [start(project, *args) for args in SENDERS]
    # the winner's first message waits at the server until both others have given up
    wait_for(lambda: sum(p.poll() is not None for p in procs) >= 2, "two losers to exit")
    handler.gate.set()
    results = [(p.wait(DEADLINE), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 4, 4], results
    for code, _, err in results:
        if code == 4:
            assert "is being sent by" in err and "lease until" in err, err
            assert "nothing was sent by this process" in err
            assert "--wait" in err
    store = store_of(project)
    assert_each_once(handler, emails, store)
    (sent,) = [r for r in table(store, runs) if r["outcome"] != "running"]
    assert sent["outcome"] == "sent" and sent["counts"]["accepted"] == len(emails)
    assert sent["destination"] == f"smtp 127.0.0.1:{port}"


def test_with_wait_the_others_wait_then_find_it_sent(
    project: Path, relay: tuple[GatedRelay, int]
) -> None:
    handler, port = relay
    emails = smtp_project(project, port, 600)
    assert run_digest(project, "collect", env=env()).returncode == 0
    procs = [start(project, *args, "--wait", "10m") for args in SENDERS]
    wait_for(handler.arrived.is_set, "the first message")
    store = store_of(project)
    running = [r for r in table(store, runs) if r["outcome"] == "running"]
    assert len(running) == 1 and [p.poll() for p in procs] == [None] * 3  # two are waiting
    handler.gate.set()
    results = [(p.wait(DEADLINE), *p.communicate()) for p in procs]
    assert [code for code, _, _ in results] == [0, 0, 0], results
    outputs = "".join(out for _, out, _ in results)
    assert "already" in outputs
    assert_each_once(handler, emails, store)
    assert [r["outcome"] for r in table(store, runs)] == ["sent"]


def test_a_live_lease_of_another_host_blocks_an_expired_one_is_taken_over(
    project: Path,
) -> None:
    """Only the lease decides: an owner pid that does not exist here still holds the period."""
    assert run_digest(project, "collect").returncode == 0
    store = store_of(project)
    window = Pipeline(load_settings(project / "config.toml"), store).period("weekly")
    now = datetime.now(UTC)
    held = store.runs.claim(
        "weekly", window, "send", "elsewhere:999999:beef", now, timedelta(hours=1)
    )
    assert held is not None
    blocked = run_digest(project, "send", "--list", "weekly")
    assert blocked.returncode == 4, blocked.stderr
    assert "elsewhere:999999:beef" in blocked.stderr and "lease until" in blocked.stderr
    assert not (project / "outbox").exists()
    store.runs.renew(held.id, "elsewhere:999999:beef", now - timedelta(seconds=1))
    taken = run_digest(project, "send", "--list", "weekly")
    assert taken.returncode == 0, taken.stderr
    assert "issue 1 sent" in taken.stdout
    (run,) = [r for r in table(store, runs) if r["outcome"] == "sent"]
    assert run["trigger"] == "send" and run["owner"] != "elsewhere:999999:beef"


def test_digest_run_is_recorded_in_runs_and_schedule_show(project: Path) -> None:
    """``make run`` (collect, build, send to the outbox) leaves one run with its counts."""
    made = run_digest(project, "run")
    assert made.returncode == 0, made.stderr
    history = json.loads(run_digest(project, "runs", "--json").stdout)
    (run,) = history
    assert run["trigger"] == "run" and run["outcome"] == "sent" and run["issue"] == 1
    assert run["counts"] == {"accepted": 6}
    folder = Path(run["destination"].removeprefix("outbox "))
    assert (
        run["destination"].startswith("outbox ") and folder.parent == project / "outbox" / "weekly"
    )
    assert len(list(folder.glob("*.eml"))) == 6
    shown = json.loads(run_digest(project, "schedule", "show", "--json").stdout)
    last = shown["lists"][0]["last_run"]
    assert last is not None and last["trigger"] == "run" and last["outcome"] == "sent"


def test_run_now_beside_a_scheduler_on_a_seconds_schedule_claims_and_issues_agree(
    project: Path, relay: tuple[GatedRelay, int]
) -> None:
    """The ops override (``schedule set``) cuts the periods of issues and claims alike."""
    handler, port = relay
    emails = smtp_project(project, port, 300, '\n[scheduler]\nlease = "10m"\npoll = "1s"\n')
    cron = run_digest(project, "schedule", "set", "weekly", "*/20 * * * * *", "--timezone", "UTC")
    assert cron.returncode == 0, cron.stderr
    sched = subprocess.Popen(
        [sys.executable, "-m", "digest", "scheduler"],
        cwd=project,
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(handler.arrived.is_set, "the scheduler's first message")
        now = start(project, "schedule", "run-now", "weekly")
        # it exits without sending; were it to send, it would block at the gate: then let it
        # through after a while, to see the damage below
        with contextlib.suppress(subprocess.TimeoutExpired):
            now.wait(90)
        handler.gate.set()
        code = now.wait(DEADLINE)
        out, err = now.communicate()
        store = store_of(project)
        wait_for(
            lambda: all(r["outcome"] != "running" for r in table(store, runs)), "runs to finish"
        )
    finally:
        sched.send_signal(signal.SIGTERM)
        assert sched.wait(DEADLINE) == 0
    assert code in (0, 4), out + err
    by_number = {i["number"]: i for i in table(store, issues)}
    for run in table(store, runs):
        if run["outcome"] == "sent":  # a run sent exactly the issue of its own period
            issue = by_number[run["issue_number"]]
            assert (issue["period_start"], issue["period_end"]) == (
                run["period_start"],
                run["period_end"],
            ), run
    assert all(i["status"] == "sent" for i in by_number.values())
    statuses = Counter(r["status"] for r in table(store, deliveries))
    assert set(statuses) == {"accepted"}
    assert max(handler.copies.values()) == 1
    assert sorted(handler.received) == emails
    assert set(handler.received.values()) == {len(by_number)}
