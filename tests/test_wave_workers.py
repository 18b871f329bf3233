"""A list sent in its readers' zones, through real ``digest worker`` processes on RabbitMQ.

The freeze writes every reader's ledger row, most of them waiting for a later wave; the
workers' chunks cover id ranges where both waves' rows lie interleaved, and must send only the
wave that runs: each reader exactly once, at their own wave, to the fake SendGrid.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from digest.config.load import load_settings
from digest.pipeline import Pipeline

from .delivery_helpers import API_KEY, SIGNING_KEY
from .fake_sendgrid import FakeSendGrid
from .rabbit import broker_url
from .test_wave_sends import KATHMANDU, TOKYO, Clock, dispatch, waiting, wave_runs_of
from .test_waves import local_list
from .workers_helpers import BROKER_ENV, Worker, use_workers

PER_ZONE = 90
ZONES = ("Asia/Tokyo", "Asia/Kathmandu")


def test_two_waves_through_two_workers_reach_each_reader_once_at_their_wave(
    project: Path,
    fake: FakeSendGrid,
    vhost: str,
    workers: list[Worker],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # readers alternate zones: every chunk's id range holds both waves' rows
    readers = {f"r{i:03d}@example.org": ZONES[i % 2] for i in range(2 * PER_ZONE)}
    local_list(project, "0 7 * * 1", "America/New_York", readers)
    config = use_workers(project, fake.url, vhost, batch=20)
    monkeypatch.setenv(BROKER_ENV, broker_url(vhost))
    monkeypatch.setenv("SENDGRID_API_KEY", API_KEY)
    monkeypatch.setenv("DIGEST_SIGNING_KEY", SIGNING_KEY)
    workers += [Worker(project, vhost, str(i)) for i in range(2)]
    for w in workers:
        w.wait_ready()
    clock = Clock(TOKYO - timedelta(days=2))
    pipeline = Pipeline(load_settings(config), clock=clock)
    pipeline.store.runs.set_override("weekly", clock.now, "test")  # as the scheduler does
    tokyo = sorted(e for e, z in readers.items() if z == "Asia/Tokyo")
    kathmandu = sorted(e for e, z in readers.items() if z == "Asia/Kathmandu")

    assert dispatch(pipeline, clock, TOKYO) == ["22:00 sent"]
    assert sorted(fake.received) == tokyo and set(fake.received.values()) == {1}
    assert wave_runs_of(pipeline)[TOKYO] == ("sent", {"accepted": PER_ZONE})
    assert waiting(pipeline) == dict.fromkeys(kathmandu, KATHMANDU)  # planned at the freeze

    assert dispatch(pipeline, clock, KATHMANDU) == ["01:15 sent"]
    assert wave_runs_of(pipeline)[KATHMANDU] == ("sent", {"accepted": PER_ZONE})
    assert Counter(fake.received) == Counter(dict.fromkeys(readers, 1))  # each reader once
    assert fake.violations == []
    assert waiting(pipeline) == {}
    for w in workers:  # both took chunks
        assert "digest.send_chunk" in w.text() and "succeeded" in w.text(), w.text()
