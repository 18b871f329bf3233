"""A wave's run claims its readers' rows straight from ``waiting``: only its own wave's rows,
never another wave's in the same id range, with leavers suppressed as planned rows are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, update

from digest.models import DeliveryResult, RenderedEmail, Window
from digest.store import Store
from digest.store.chunks import ChunkLedger
from digest.store.issues import IssueRow
from digest.store.schema import deliveries, subscribers

NOW = datetime(2026, 11, 29, 20, 0, tzinfo=UTC)
TOKYO = datetime(2026, 11, 29, 22, 0, tzinfo=UTC)
NEW_YORK = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
EMAIL = RenderedEmail("s", "p", "<p>h</p>", "t", "")


def interleaved(url: str, readers: int = 12) -> tuple[Store, IssueRow]:
    """Readers 1..n: odd ones waiting on Tokyo's wave, even ones on New York's (so each
    wave's rows share one id range); reader 1 already planned (a retry of Tokyo's)."""
    store = Store(url)
    list_id = store.subscribers.list_id("weekly")
    issue = store.issues.create(
        list_id, 1, Window(NOW, NOW), [], EMAIL, NOW, waves=(TOKYO, NEW_YORK)
    )
    assert issue is not None
    with store.begin() as conn:
        conn.execute(
            insert(subscribers),
            [
                {"id": i, "list_id": list_id, "email": f"r{i}@example.org", "name": "",
                 "areas": [], "status": "active", "in_roster": True, "updated_at": NOW}
                for i in range(1, readers + 1)
            ],
        )  # fmt: skip
        conn.execute(
            insert(deliveries),
            [
                {"issue_id": issue.id, "subscriber_id": i, "email": f"r{i}@example.org",
                 "status": "planned" if i == 1 else "waiting", "attempts": 0, "segment": "",
                 "updated_at": NOW, "wave": TOKYO if i % 2 else NEW_YORK}
                for i in range(1, readers + 1)
            ],
        )  # fmt: skip
    return store, issue


def by_status(store: Store, issue: IssueRow) -> dict[int, str]:
    with store.begin() as conn:
        rows = conn.execute(
            select(deliveries.c.subscriber_id, deliveries.c.status).where(
                deliveries.c.issue_id == issue.id
            )
        )
        return dict(rows.all())


def test_a_waves_chunk_takes_its_waiting_rows_and_no_other_waves(database_url: str) -> None:
    store, issue = interleaved(database_url)
    ranges = list(store.issues.pending(issue.id, "", batch=100, wave=TOKYO))
    assert [(r.first, r.last, r.rows) for r in ranges] == [(3, 11, 5)]  # 1 is planned
    rows, suppressed = store.issues.claim(issue.id, "", 1, 12, "c1", NOW, wave=TOKYO)
    assert [r.subscriber_id for r in rows] == [3, 5, 7, 9, 11] and suppressed == 0
    after = by_status(store, issue)
    assert {i for i, s in after.items() if s == "submitted"} == {3, 5, 7, 9, 11}
    assert {i for i, s in after.items() if s == "waiting"} == {2, 4, 6, 8, 10, 12}  # New York's
    assert after[1] == "planned"  # left to the planned rows' pass
    again, _ = store.issues.claim(issue.id, "", 1, 12, "c2", NOW, wave=TOKYO)
    assert again == []  # claimed once
    store.close()


def test_planned_rows_passes_never_take_a_waves_waiting_rows(database_url: str) -> None:
    store, issue = interleaved(database_url)
    assert [(r.first, r.last) for r in store.issues.pending(issue.id, "", batch=100)] == [(1, 1)]
    rows, _ = store.issues.claim(issue.id, "", 1, 12, "c1", NOW)
    assert [r.subscriber_id for r in rows] == [1]
    assert sum(s == "waiting" for s in by_status(store, issue).values()) == 11
    store.close()


def test_a_reader_who_left_is_suppressed_when_their_waves_chunk_is_claimed(
    database_url: str,
) -> None:
    store, issue = interleaved(database_url)
    with store.begin() as conn:
        conn.execute(update(subscribers).where(subscribers.c.id == 5).values(status="unsubscribed"))
    rows, suppressed = store.issues.claim(issue.id, "", 1, 12, "c1", NOW, wave=TOKYO)
    assert suppressed == 1 and 5 not in [r.subscriber_id for r in rows]
    assert by_status(store, issue)[5] == "suppressed"
    store.close()


def test_a_waves_chunk_is_over_once_its_waiting_rows_are_recorded(database_url: str) -> None:
    store, issue = interleaved(database_url)
    chunks = ChunkLedger(store.engine)
    assert not chunks.state(issue.id, "", [(1, 12)], "c1", TOKYO).done  # waiting: not claimed
    lease = NOW + timedelta(minutes=2)
    rows, _ = store.issues.claim(
        issue.id, "", 3, 11, "c1aa", NOW, owner="w", lease_until=lease, wave=TOKYO
    )
    assert not chunks.state(issue.id, "", [(3, 11)], "c1", TOKYO).done  # in hand
    outcomes = [DeliveryResult(r.subscriber_id, "accepted", "m") for r in rows]
    store.issues.record(issue.id, "c1aa", outcomes, NOW, "")
    state = chunks.state(issue.id, "", [(3, 11)], "c1", TOKYO)
    assert state.done and state.tally == {"accepted": 5}  # New York's waiting rows are not its
    store.close()
