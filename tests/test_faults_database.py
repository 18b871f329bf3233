"""Fault tests: the database's connections dropped under a real ``digest send``, on PostgreSQL.

Every connection to the test's own database is terminated (``pg_terminate_backend``) while
the fake SendGrid holds a chosen request, that is while the sender waits on SendGrid with the
chunk ``submitted``; the shared server itself is never restarted. A drop that the database
comes back from must not show: the send finishes, everyone once. A database that stays away
(connections refused) stops the send with an error naming the database, not a traceback; the
rows whose outcome could not be written are ``unknown``, never resent on their own, and
``digest send --resume`` sends the rest exactly once.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.config.load import load_settings
from digest.pipeline import Pipeline

from .cli_helpers import cli_env, start_digest
from .delivery_helpers import API_KEY, SIGNING_KEY, use_backend, write_roster
from .faults_helpers import CuttingSendGrid, Dropper, dropper_for, use_postgres
from .rabbit import fresh_vhost
from .workers_helpers import Worker, digest, use_workers

DEADLINE = 600
RECIPIENTS, BATCH = 2000, 50


@pytest.fixture
def pg_project(project: Path, postgres_url: str) -> Path:
    """The default project with its store in a PostgreSQL database of its own."""
    return use_postgres(project, postgres_url)


@pytest.fixture
def dropper(pg_project: Path) -> Iterator[Dropper]:
    yield from dropper_for(pg_project)


def cli(project: Path, *args: str) -> subprocess.Popen[str]:
    return start_digest(
        project, *args, env=cli_env(SENDGRID_API_KEY=API_KEY, DIGEST_SIGNING_KEY=SIGNING_KEY)
    )


def in_process(project: Path, url: str) -> Path:
    config = use_backend(
        project, "sendgrid", host=url, batch_size=BATCH, workers=1, timeout=120.0,
        backoff=0.001, backoff_max=0.01,
    )  # fmt: skip
    config.write_text(config.read_text() + '\n[scheduler]\nlease = "2s"\n', encoding="utf-8")
    return config


def collected(project: Path) -> None:
    proc = cli(project, "collect")
    out, errors = proc.communicate(timeout=DEADLINE)
    assert proc.returncode == 0, out + errors


def ledger(config: Path) -> tuple[Pipeline, dict[str, int]]:
    pipeline = Pipeline(load_settings(config))
    list_id = pipeline.store.subscribers.list_id("weekly")
    issue = pipeline.store.issues.latest(list_id)
    assert issue is not None
    return pipeline, pipeline.store.issues.counts(issue.id)


def test_dropped_connections_mid_send_do_not_show(pg_project: Path, dropper: Dropper) -> None:
    emails = write_roster(pg_project, RECIPIENTS)
    cuts = {3, 11, 25}

    def cut(n: int) -> None:
        if n in cuts:
            assert dropper.drop() >= 1  # the sender's pooled connection(s), at least

    with CuttingSendGrid(cut) as fake:
        config = in_process(pg_project, fake.url)
        collected(pg_project)
        send = cli(pg_project, "send", "--list", "weekly")
        out, errors = send.communicate(timeout=DEADLINE)
        assert send.returncode == 0, out + errors
        assert dropper.drops == len(cuts)
        assert fake.violations == []
        assert sorted(fake.received) == emails
        assert set(fake.received.values()) == {1}
    pipeline, counts = ledger(config)
    assert counts == {"accepted": RECIPIENTS}
    (run,) = pipeline.store.runs.history("weekly")
    assert (run.outcome, run.counts) == ("sent", {"accepted": RECIPIENTS})


def test_a_database_that_stays_away_stops_the_send_cleanly_and_resume_finishes_it(
    pg_project: Path, dropper: Dropper
) -> None:
    emails = write_roster(pg_project, RECIPIENTS)
    cut_at = 9

    def cut(n: int) -> None:
        if n == cut_at:
            dropper.refuse(True)
            dropper.drop()

    with CuttingSendGrid(cut) as fake:
        config = in_process(pg_project, fake.url)
        collected(pg_project)
        send = cli(pg_project, "send", "--list", "weekly")
        out, errors = send.communicate(timeout=DEADLINE)
        fake.settle()
        assert send.returncode == 1, out + errors
        assert "Traceback" not in errors, errors
        assert "error:" in errors and dropper.name in errors, errors  # names the database
        assert "could not record what became of chunk" in errors, errors
        assert len(fake.requests) == cut_at  # the send stopped at the lost database
        sent_before = set(fake.received)
        assert set(fake.received.values()) == {1}
        dropper.refuse(False)
        pipeline, counts = ledger(config)
        assert set(counts) <= {"accepted", "submitted", "planned", "unknown"}, counts
        assert counts.get("accepted", 0) + counts.get("submitted", 0) + counts.get(
            "unknown", 0
        ) == len(sent_before), counts
        resume = cli(pg_project, "send", "--list", "weekly", "--resume", "--wait", "5m")
        out, errors = resume.communicate(timeout=DEADLINE)
        fake.settle()
        assert resume.returncode == 1, out + errors  # unknown rows wait for ops
        assert "unknown" in out, out
        assert sorted(fake.received) == emails
        assert set(fake.received.values()) == {1}
    pipeline, counts = ledger(config)
    assert set(counts) == {"accepted", "unknown"}, counts
    assert sum(counts.values()) == RECIPIENTS
    issue = pipeline.store.issues.latest(pipeline.store.subscribers.list_id("weekly"))
    assert issue is not None
    unknown = {u.email for u in pipeline.store.issues.unknown_recipients(issue.id)}
    assert unknown and unknown <= sent_before  # in doubt: exactly the chunk cut off mid-send
    assert len(unknown) == BATCH


@pytest.fixture
def vhost() -> Iterator[str]:
    yield from fresh_vhost()


def test_dropped_connections_mid_send_through_workers_do_not_show(
    pg_project: Path, dropper: Dropper, vhost: str
) -> None:
    emails = write_roster(pg_project, RECIPIENTS)
    cuts = {3, 11, 25}

    def cut(n: int) -> None:
        if n in cuts:
            dropper.drop()

    workers: list[Worker] = []
    with CuttingSendGrid(cut) as fake:
        try:
            config = use_workers(pg_project, fake.url, vhost, batch=BATCH)
            collect = digest(pg_project, vhost, "collect")
            out, errors = collect.communicate(timeout=DEADLINE)
            assert collect.returncode == 0, out + errors
            workers += [Worker(pg_project, vhost, str(i)) for i in range(2)]
            send = digest(pg_project, vhost, "send", "--list", "weekly")
            out, errors = send.communicate(timeout=DEADLINE)
            assert send.returncode == 0, out + errors + "".join(w.text() for w in workers)
        finally:
            for w in workers:
                w.stop()
        fake.settle()
        assert dropper.drops == len(cuts)
        assert fake.violations == []
        assert sorted(fake.received) == emails
        assert set(fake.received.values()) == {1}
    pipeline, counts = ledger(config)
    assert counts == {"accepted": RECIPIENTS}
    (run,) = pipeline.store.runs.history("weekly")
    assert (run.outcome, run.counts) == ("sent", {"accepted": RECIPIENTS})
