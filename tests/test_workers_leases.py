"""Chunks sent by workers hold a real lease in ``chunk_leases``, renewed while they send.

A chunk whose SendGrid request takes longer than the lease stays its worker's: nobody marks
its rows ``unknown`` while the worker still renews, and its outcome is recorded as it comes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from digest.config.load import load_settings
from digest.pipeline import Pipeline
from digest.store.chunks import ChunkLedger
from digest.store.schema import chunk_leases

from .delivery_helpers import write_roster
from .faults_helpers import CuttingSendGrid
from .rabbit import fresh_vhost
from .test_chunk_leases import LEASE, NOW, planned, statuses
from .workers_helpers import Worker, digest, use_workers

DEADLINE = 600


@pytest.fixture
def vhost() -> Iterator[str]:
    yield from fresh_vhost()


def test_a_redelivery_waits_while_the_lease_is_renewed_though_the_rows_are_old(
    database_url: str,
) -> None:
    store, issue = planned(database_url)
    chunks = ChunkLedger(store.engine)
    owner = "host-a:1:abcd"
    store.issues.claim(issue.id, "", 1, 10, "eeee0001", NOW, owner=owner, lease_until=NOW + LEASE)
    later = NOW + LEASE * 3  # the rows were written three leases ago...
    assert store.issues.renew_chunk("eeee0001", owner, later + LEASE)  # ...but it renews
    assert chunks.release(issue.id, "", 1, 10, "eeee", later - LEASE, False, later) == 10
    assert chunks.stale(issue.id, later - LEASE, False, later) == 0
    assert statuses(store, issue) == {"submitted": 10}
    gone = later + LEASE + timedelta(seconds=1)  # it stopped renewing: dead
    assert chunks.release(issue.id, "", 1, 10, "eeee", gone - LEASE, False, gone) == 0
    assert statuses(store, issue) == {"unknown": 10}


def test_a_worker_renews_its_chunk_lease_while_sendgrid_holds_the_request(
    project: Path, vhost: str
) -> None:
    emails = write_roster(project, 100)
    gate = threading.Event()
    held = threading.Event()

    def hold(n: int) -> None:  # the only request: answered once the test saw the renewals
        held.set()
        gate.wait(DEADLINE)

    worker = None
    with CuttingSendGrid(hold) as fake:
        try:
            config = use_workers(project, fake.url, vhost, batch=100)  # one chunk, lease 2 s
            config.write_text(
                config.read_text().replace("timeout = 10.0", "timeout = 600.0"), encoding="utf-8"
            )
            collect = digest(project, vhost, "collect")
            assert collect.wait(DEADLINE) == 0, collect.communicate()
            worker = Worker(project, vhost, "0")
            send = digest(project, vhost, "send", "--list", "weekly")
            assert held.wait(DEADLINE), "the chunk never reached SendGrid"
            store = Pipeline(load_settings(config)).store
            lease = timedelta(seconds=2)

            def lease_row() -> tuple[str, object, object]:
                with store.engine.connect() as conn:
                    (row,) = conn.execute(
                        select(chunk_leases.c.owner, chunk_leases.c.claimed_at,
                               chunk_leases.c.lease_until)
                    ).all()  # fmt: skip
                return row[0], row[1], row[2]

            owner, claimed_at, until = lease_row()
            assert until is not None, "the worker's chunk has no lease"
            assert owner.split(":")[1] != str(send.pid)  # the worker's, not the sender's

            def renewed_twice() -> bool:
                current = lease_row()[2]
                return current is not None and current > claimed_at + lease * 2  # type: ignore[operator]

            wait_until(renewed_twice)
            # meanwhile digest send swept for dead chunks (every lease): this one was live
            gate.set()
            out, errors = send.communicate(timeout=DEADLINE)
            assert send.returncode == 0, out + errors + worker.text()
        finally:
            gate.set()
            if worker is not None:
                worker.stop()
        assert sorted(fake.received) == emails
        assert set(fake.received.values()) == {1}
    list_id = store.subscribers.list_id("weekly")
    issue = store.issues.latest(list_id)
    assert issue is not None
    assert store.issues.counts(issue.id) == {"accepted": 100}


def wait_until(condition: object, timeout: float = DEADLINE) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("timed out")
