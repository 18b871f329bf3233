"""A wave's rows across spans of subscriber ids: the index of the waves is led by the span
(``deliveries.span``), so a wave's ranges, claims and counts must read every span, and a
range may run from one span into the next."""

from __future__ import annotations

from sqlalchemy import select, text

from digest.store import Store
from digest.store.ledger_sql import PLANNED, SUBMITTED, WAITING
from digest.store.schema import SPAN, deliveries

from .test_wave_sends import NEW_YORK, TOKYO, tokyo_then_new_york

# readers on both sides of the first span's end, and a few two spans on (the one between
# holds none of them)
IDS = [*range(SPAN - 10, SPAN + 10), *range(3 * SPAN, 3 * SPAN + 5)]


def zone_of(reader: int) -> str | None:
    return "Asia/Tokyo" if reader % 3 == 0 else None  # None: the list's, New York


def test_a_waves_ranges_run_across_spans_and_its_claims_take_only_its_rows(
    database_url: str,
) -> None:
    store = Store(database_url)
    readers = [{"id": i, "email": f"r{i}@example.org", "timezone": zone_of(i)} for i in IDS]
    list_id, issue, placing = tokyo_then_new_york(store, readers)
    assert store.issues.plan_active(issue.id, list_id, TOKYO, placing=placing) == len(IDS)
    # again (a run that died mid-freeze, resumed): every reader has a row already
    assert store.issues.plan_active(issue.id, list_id, TOKYO, placing=placing) == 0
    lost = [SPAN - 1, SPAN, 3 * SPAN]  # rows a freeze cut short never wrote, one per span
    with store.begin() as conn:
        conn.execute(deliveries.delete().where(deliveries.c.subscriber_id.in_(lost)))
    assert store.issues.plan_active(issue.id, list_id, TOKYO, placing=placing) == len(lost)
    with store.begin() as conn:  # the database computes each row's span
        spans = dict(conn.execute(text("SELECT subscriber_id, span FROM deliveries")).all())
    assert spans == {i: i // SPAN for i in IDS}
    assert set(spans.values()) == {0, 1, 3}

    new_york = [i for i in IDS if zone_of(i) is None]
    ranges = list(store.issues.pending(issue.id, "", PLANNED, batch=4, wave=NEW_YORK))
    # full ranges of 4 in id order, one of them from the first span into the second, one
    # from the second into the fourth
    chunks = [new_york[k : k + 4] for k in range(0, len(new_york), 4)]
    assert [(r.first, r.last, r.rows) for r in ranges] == [(c[0], c[-1], len(c)) for c in chunks]
    assert any(r.first < SPAN <= r.last for r in ranges)
    assert any(r.first < 3 * SPAN <= r.last for r in ranges)
    assert store.issues.waiting_segments(issue.id, [NEW_YORK]) == [(NEW_YORK, "")]

    claimed: list[int] = []
    for n, r in enumerate(ranges):
        rows, suppressed = store.issues.claim(
            issue.id, "", r.first, r.last, f"c{n}", TOKYO, wave=NEW_YORK
        )
        assert suppressed == 0
        claimed += [row.subscriber_id for row in rows]
    assert claimed == new_york  # each once, and no reader of Tokyo's wave
    assert store.issues.counts(issue.id, [NEW_YORK]) == {SUBMITTED: len(new_york)}
    assert store.issues.counts(issue.id, [TOKYO]) == {PLANNED: len(IDS) - len(new_york)}
    assert store.issues.waiting_segments(issue.id, [NEW_YORK]) == []
    with store.begin() as conn:
        left = conn.execute(select(deliveries.c.status).where(deliveries.c.status == WAITING))
        assert left.all() == []
    store.close()
