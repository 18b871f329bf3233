"""Sends through real ``digest worker`` processes on the real RabbitMQ, to the fake SendGrid.

Each test has its own vhost and queue. Workers are killed at deterministic points through
the worker's fault hook (``DIGEST_WORKER_FAULT``), and the broker connection is cut with
``rabbitmqctl``; every test then checks, from what the fake SendGrid received and from the
ledger, that every recipient got the issue exactly once or is reported ``unknown``.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

from digest.config.load import load_settings
from digest.models import IssueRow
from digest.pipeline import Pipeline

from .delivery_helpers import write_roster
from .fake_sendgrid import FakeSendGrid
from .rabbit import rabbitmqctl
from .test_send_faults import resolve_like_ops
from .workers_helpers import Worker, digest, use_workers


def collected(project: Path, vhost: str) -> None:
    proc = digest(project, vhost, "collect")
    out, errors = proc.communicate(timeout=120)
    assert proc.returncode == 0, out + errors


def the_issue(pipeline: Pipeline) -> IssueRow:
    list_id = pipeline.store.subscribers.list_id("weekly")
    issue = pipeline.store.issues.latest(list_id)
    assert issue is not None
    return issue


def wait_for(condition: object, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_send_through_two_workers_reaches_everyone_once(
    project: Path, fake: FakeSendGrid, vhost: str, workers: list[Worker]
) -> None:
    emails = write_roster(project, 3000)
    config = use_workers(project, fake.url, vhost, batch=100)
    collected(project, vhost)
    workers += [Worker(project, vhost, str(i)) for i in range(2)]
    send = digest(project, vhost, "send", "--list", "weekly")
    out, errors = send.communicate(timeout=300)
    assert send.returncode == 0, out + errors
    assert "sent: accepted 3000" in out
    assert "3000/3000 recipients" in errors  # progress, as the in-process path reports it
    assert fake.violations == []
    assert sorted(fake.received) == emails
    assert set(fake.received.values()) == {1}
    for w in workers:  # both took chunks
        assert "digest.send_chunk" in w.text() and "succeeded" in w.text(), w.text()
    pipeline = Pipeline(load_settings(config))
    (run,) = pipeline.store.runs.history("weekly")
    assert run.outcome == "sent"
    assert run.counts == {"accepted": 3000}


FAULTS = 20
POINTS = ("claimed", "posted", "recorded")
RECIPIENTS, BATCH = 20_000, 200


def faults() -> str:
    """20 kill points, on every 5th of the send's 100 chunks: each point in turn, a quarter
    of them killing only the pool process, the rest the whole worker."""
    chunks = [1 + BATCH * (2 + 5 * i) for i in range(FAULTS)]
    return ",".join(
        f"{POINTS[i % 3]}@{first}:{'child' if i % 4 == 3 else 'worker'}"
        for i, first in enumerate(chunks)
    )


def test_workers_killed_at_twenty_points_lose_nobody_and_send_nobody_twice(
    project: Path, fake: FakeSendGrid, vhost: str, workers: list[Worker]
) -> None:
    emails = write_roster(project, RECIPIENTS)
    config = use_workers(project, fake.url, vhost, batch=BATCH)
    collected(project, vhost)
    markers = project / "faults"
    markers.mkdir()
    env = {"DIGEST_WORKER_FAULT": faults(), "DIGEST_WORKER_FAULT_DIR": str(markers)}

    def start() -> Worker:
        w = Worker(project, vhost, str(len(workers)), **env)
        workers.append(w)
        return w

    live = [start() for _ in range(3)]
    send = digest(project, vhost, "send", "--list", "weekly")
    killed = 0
    while send.poll() is None:  # replace each killed worker, as systemd would
        for w in list(live):
            if w.proc.poll() is not None:
                assert w.proc.returncode == -signal.SIGKILL, w.text()
                killed += 1
                live.remove(w)
                live.append(start())
        time.sleep(0.05)
    out, errors = send.communicate()
    fired = sorted(p.name for p in markers.iterdir())
    assert len(fired) == FAULTS, f"{fired} fired before the send ended: {out} {errors}"
    assert killed >= FAULTS * 3 // 4  # the rest killed a pool process, which Celery replaced
    fake.settle()
    assert fake.violations == []
    assert max(fake.received.values()) == 1, "a recipient got the issue twice"
    pipeline = Pipeline(load_settings(config))
    issue = the_issue(pipeline)
    counts = pipeline.store.issues.counts(issue.id)
    assert sum(counts.values()) == RECIPIENTS
    assert set(counts) <= {"accepted", "unknown"}, counts
    assert counts.get("unknown"), "no kill left a chunk in doubt"
    assert send.returncode == 1 and "unknown" in out, out + errors
    unknown = {u.email for u in pipeline.store.issues.unknown_recipients(issue.id)}
    assert set(emails) - unknown <= set(fake.received)  # the accepted ones reached SendGrid
    resolve_like_ops(pipeline, fake)
    final = digest(project, vhost, "send", "--list", "weekly", "--resume", "--wait", "1m")
    out, errors = final.communicate(timeout=300)
    assert final.returncode == 0, out + errors
    assert sorted(fake.received) == emails
    assert set(fake.received.values()) == {1}
    assert pipeline.unfinished("weekly") == []


def test_a_cut_broker_connection_delays_a_run_but_it_finishes_exactly_once(
    project: Path, fake: FakeSendGrid, vhost: str, workers: list[Worker]
) -> None:
    emails = write_roster(project, 3000)
    config = use_workers(project, fake.url, vhost, batch=50)
    collected(project, vhost)
    workers += [Worker(project, vhost, str(i)) for i in range(2)]
    for w in workers:
        w.wait_ready()
    pipeline = Pipeline(load_settings(config))
    send = digest(project, vhost, "run")  # the main job sends through the workers too
    wait_for(lambda: len(fake.received) >= 300, "the send to get going")
    rabbitmqctl("close_all_connections", "--vhost", vhost, "digest test: cut")
    out, errors = send.communicate(timeout=300)
    assert send.returncode == 0, out + errors
    for w in workers:  # each lost its connection and came back
        log = w.log.read_text(encoding="utf-8")
        assert "Connection to broker lost" in log, w.text()
        assert log.count("Connected to amqp://") >= 2, w.text()
    assert fake.violations == []
    assert sorted(fake.received) == emails
    assert set(fake.received.values()) == {1}
    assert pipeline.store.issues.counts(the_issue(pipeline).id) == {"accepted": 3000}
    (run,) = pipeline.store.runs.history("weekly")
    assert (run.trigger, run.outcome, run.counts) == ("run", "sent", {"accepted": 3000})
