"""What a redelivered chunk task may do with rows an earlier delivery left in hand, and when
``digest send`` counts a chunk over: the ledger's side of the workers, on a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from digest.models import RenderedEmail, Window
from digest.store import Store
from digest.store.chunks import LOST, ChunkLedger
from digest.store.issues import IssueRow
from digest.store.ledger import Outcome

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)
EMAIL = RenderedEmail("s", "p", "<p>h</p>", "t", "")


def planned(url: str, count: int = 10) -> tuple[Store, IssueRow]:
    store = Store(url)
    list_id = store.subscribers.list_id("weekly")
    with store.begin() as conn:
        for i in range(1, count + 1):
            conn.execute(
                text(
                    "INSERT INTO subscribers (list_id, email, name, areas, status, in_roster,"
                    " updated_at) VALUES (:l, :e, '', '[]', 'active', :yes, :now)"
                ),
                {"l": list_id, "e": f"r{i}@example.org", "yes": True, "now": NOW},
            )
    issue = store.issues.create(list_id, 1, Window(NOW, NOW), [], EMAIL, NOW)
    assert issue is not None
    store.issues.plan_active(issue.id, list_id, NOW)
    return store, issue


def statuses(store: Store, issue: IssueRow) -> dict[str, int]:
    return store.issues.counts(issue.id)


def test_a_redelivery_waits_out_a_live_lease_then_leaves_submitted_rows_unknown(
    database_url: str,
) -> None:
    store, issue = planned(database_url)
    chunks = ChunkLedger(store.engine)
    rows, _ = store.issues.claim(issue.id, "", 1, 10, "aaaa0001", NOW)  # first delivery
    assert len(rows) == 10
    later = NOW + timedelta(seconds=30)
    assert chunks.release(issue.id, "", 1, 10, "aaaa", later - LEASE, False, later) == 10
    assert statuses(store, issue) == {"submitted": 10}  # may still be sending: untouched
    assert not chunks.state(issue.id, "", [(1, 10)], "aaaa").done
    expired = NOW + LEASE + timedelta(seconds=1)
    assert chunks.release(issue.id, "", 1, 10, "aaaa", expired - LEASE, False, expired) == 0
    assert statuses(store, issue) == {"unknown": 10}
    assert {u.reason for u in store.issues.unknown_recipients(issue.id)} == {LOST}
    # never resent on its own: the redelivery finds nothing planned to claim
    assert store.issues.claim(issue.id, "", 1, 10, "aaaa0002", expired) == ([], 0)
    state = chunks.state(issue.id, "", [(1, 10)], "aaaa")
    assert state.done and state.tally == {"unknown": 10}


def test_another_chunks_rows_and_an_idempotent_backend(database_url: str) -> None:
    store, issue = planned(database_url)
    chunks = ChunkLedger(store.engine)
    store.issues.claim(issue.id, "", 1, 5, "bbbb0001", NOW)
    expired = NOW + LEASE * 2
    # a delivery of another chunk never decides about these rows
    assert chunks.release(issue.id, "", 1, 10, "cccc", expired - LEASE, False, expired) == 0
    assert statuses(store, issue) == {"submitted": 5, "planned": 5}
    # an idempotent backend may send them again: planned, not unknown
    assert chunks.release(issue.id, "", 1, 5, "bbbb", expired - LEASE, True, expired) == 0
    assert statuses(store, issue) == {"planned": 10}


def test_a_chunk_is_over_only_when_none_of_its_rows_waits(database_url: str) -> None:
    store, issue = planned(database_url)
    chunks = ChunkLedger(store.engine)
    assert not chunks.state(issue.id, "", [(1, 10)], "dddd").done  # not started
    store.issues.claim(issue.id, "", 1, 10, "dddd0001", NOW)
    assert not chunks.state(issue.id, "", [(1, 10)], "dddd").done  # in hand
    outcomes = [Outcome(i, "accepted", "m") for i in range(1, 9)]
    outcomes += [Outcome(9, "retry", None, "429"), Outcome(10, "failed", None, "bad")]
    store.issues.record(issue.id, "dddd0001", outcomes, NOW, "")
    state = chunks.state(issue.id, "", [(1, 10)], "dddd")
    assert state.done and state.tally == {"accepted": 8, "retry": 1, "failed": 1}


def test_the_sender_settles_only_chunks_whose_lease_is_out(database_url: str) -> None:
    store, issue = planned(database_url)
    chunks = ChunkLedger(store.engine)
    store.issues.claim(issue.id, "", 1, 5, "eeee0001", NOW)  # a dead worker's
    store.issues.claim(issue.id, "", 6, 10, "ffff0001", NOW + LEASE)  # a live one's
    now = NOW + LEASE + timedelta(seconds=1)
    assert chunks.stale(issue.id, now - LEASE, False, now) == 5
    assert statuses(store, issue) == {"unknown": 5, "submitted": 5}
