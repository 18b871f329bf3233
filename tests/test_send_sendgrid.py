"""The Sender through SendGrid (the local fake): workers, retries, unknowns, suppressions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.config.load import load_settings
from digest.delivery.pacing import RateLimiter, backoff
from digest.pipeline import Pipeline
from digest.reports import Progress

from .delivery_helpers import API_KEY, SIGNING_KEY, use_backend, write_roster
from .fake_sendgrid import Action, FakeSendGrid

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSendGrid]:
    monkeypatch.setenv("SENDGRID_API_KEY", API_KEY)
    monkeypatch.setenv("DIGEST_SIGNING_KEY", SIGNING_KEY)
    with FakeSendGrid(API_KEY) as server:
        yield server


def pipeline(project: Path, fake: FakeSendGrid, **options: object) -> Pipeline:
    settings = {"backoff": 0.001, "backoff_max": 0.01, "timeout": 120.0, "host": fake.url}
    config = use_backend(project, "sendgrid", **(settings | options))
    p = Pipeline(load_settings(config), clock=lambda: NOW)
    p.collect()
    return p


def test_a_large_list_is_sent_once_each_by_parallel_workers(
    project: Path, fake: FakeSendGrid
) -> None:
    emails = write_roster(project, 2500)
    seen: list[Progress] = []
    report = pipeline(project, fake, workers=3, batch_size=300).send("weekly", progress=seen.append)
    assert report.outcome == "sent" and report.counts == {"accepted": 2500}
    assert fake.violations == []
    assert sorted(fake.received) == emails and set(fake.received.values()) == {1}
    assert len(fake.requests) == 9
    assert seen[-1].done == seen[-1].total == 2500


def test_rate_limits_and_outages_are_ridden_out(project: Path, fake: FakeSendGrid) -> None:
    write_roster(project, 1000)
    fake.script("429", "500", Action("429", reset_in=None), "500", "500")
    report = pipeline(project, fake, batch_size=250, workers=2).send("weekly")
    assert report.counts == {"accepted": 1000}
    assert set(fake.received.values()) == {1}


def test_a_chunk_handed_back_is_sent_in_a_later_round(project: Path, fake: FakeSendGrid) -> None:
    write_roster(project, 20)
    fake.script("500", "500")  # the first chunk uses up its retries
    report = pipeline(project, fake, batch_size=10, workers=1, max_retries=1).send("weekly")
    assert report.counts == {"accepted": 20}
    assert set(fake.received.values()) == {1}


def test_a_dropped_answer_is_unknown_until_ops_decide(project: Path, fake: FakeSendGrid) -> None:
    write_roster(project, 30)
    fake.script("ok", "drop")
    p = pipeline(project, fake, batch_size=10, workers=1)
    report = p.send("weekly")
    assert report.outcome == "unknown"
    assert report.counts == {"accepted": 20, "unknown": 10}
    (chunk,) = report.unknown
    assert chunk.count == 10 and chunk.chunk in fake.chunks()
    assert p.resume("weekly")[0].counts == {"accepted": 20, "unknown": 10}
    assert set(fake.received.values()) == {1}  # nothing resent on its own
    (issue,) = p.resolve_unknown("weekly", resend=False)
    assert p.store.issues.counts(issue.id) == {"accepted": 20, "skipped": 10}
    assert p.unfinished("weekly") == []
    assert p.send("weekly").outcome == "already-sent"


def test_resending_unknown_rows_sends_them_once_more(project: Path, fake: FakeSendGrid) -> None:
    write_roster(project, 10)
    fake.script("hang")
    p = pipeline(project, fake, batch_size=10, timeout=0.2)
    assert p.send("weekly").outcome == "unknown"
    fake.released.set()
    assert p.resolve_unknown("weekly", resend=True)
    (report,) = p.resume("weekly")
    assert report.outcome == "sent" and report.counts == {"accepted": 10}
    assert set(fake.received.values()) == {2}  # the hung request had gone out: ops chose this


def test_a_rejected_chunk_fails_with_reasons_and_the_rest_go(
    project: Path, fake: FakeSendGrid
) -> None:
    write_roster(project, 30)
    fake.script("ok", Action("400", errors=({"message": "Bad thing", "field": "from"},)))
    report = pipeline(project, fake, batch_size=10, workers=1).send("weekly")
    assert report.outcome == "sent"
    assert report.counts == {"accepted": 20, "failed": 10}
    assert report.failures == (("SendGrid 400: Bad thing (field: from)", 10),)


def test_a_bad_key_stops_the_send_with_the_rest_still_planned(
    project: Path, fake: FakeSendGrid, monkeypatch: pytest.MonkeyPatch
) -> None:
    from digest.errors import ConfigError

    write_roster(project, 30)
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.revoked")
    p = pipeline(project, fake, batch_size=10, workers=1)
    with pytest.raises(ConfigError, match="401"):
        p.send("weekly")
    issue = p.unfinished("weekly")[0]
    assert p.store.issues.counts(issue.id) == {"planned": 30}  # nobody marked failed


def test_unsubscribing_mid_send_stops_a_chunk_not_yet_submitted(
    project: Path, fake: FakeSendGrid
) -> None:
    emails = write_roster(project, 50)
    p = pipeline(project, fake, batch_size=10, workers=1)
    list_id = p.store.subscribers.list_id("weekly")

    def unsubscribe_after_first_chunk(progress: Progress) -> None:
        if progress.done == 10:
            (late,) = [s for s in p.store.subscribers.active(list_id) if s.email == emails[-1]]
            p.store.subscribers.set_status(late.id or 0, "unsubscribed", NOW)

    report = p.send("weekly", progress=unsubscribe_after_first_chunk)
    assert report.counts == {"accepted": 49, "suppressed": 1}
    assert emails[-1] not in fake.received


def test_a_test_send_is_marked_and_stays_out_of_the_ledger(
    project: Path, fake: FakeSendGrid
) -> None:
    write_roster(project, 5)
    p = pipeline(project, fake)
    report = p.send_test("weekly", ["editor@example.org", "chief@example.net"])
    assert report.outcome == "test" and report.counts == {"accepted": 2}
    (request,) = fake.requests
    assert request.body["subject"].startswith("[TEST] ")
    assert sorted(request.emails) == ["chief@example.net", "editor@example.org"]
    assert p.unfinished("weekly") == []
    assert p.send("weekly").counts == {"accepted": 5}


def test_the_rate_cap_spaces_out_chunks() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(1000, clock=lambda: now[0], sleep=sleep)
    for _ in range(4):
        limiter.acquire(500)
    assert slept == [0.5, 0.5, 0.5]
    assert RateLimiter(0).acquire(10_000) == 0.0


def test_backoff_doubles_with_jitter_and_a_cap() -> None:
    assert backoff(0, 1.0, 60, rng=lambda: 1.0) == 1.0
    assert backoff(3, 1.0, 60, rng=lambda: 0.0) == 4.0
    assert backoff(10, 1.0, 60, rng=lambda: 1.0) == 60
