"""Claims across processes (and so hosts): (list, period) claims and ledger chunk claims are
taken atomically, whoever races for them; chunk leases keep a resume off live chunks.

The race tests run real processes on PostgreSQL (skipped with a one-line reason without it,
failed under ``CI=true``); the lease rules run on whichever store the suite uses.
"""

from __future__ import annotations

import multiprocessing as mp
import threading
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Barrier
from typing import Any

from sqlalchemy import event, func, insert, select

from digest.models import RenderedEmail, Window
from digest.store import Store
from digest.store.issues import PLANNED, SUBMITTED, UNKNOWN
from digest.store.schema import chunk_leases, deliveries, runs, subscribers

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)
EMAIL = RenderedEmail("s", "p", "<html></html>", "t", "<mjml></mjml>")
PERIODS = 25
RACERS = 3
READERS = 3000
CHUNK = 100


def _period(i: int) -> Window:
    end = T0 + timedelta(days=7 * i)
    return Window(end - timedelta(days=7), end)


def _race_periods(url: str, me: str, start: Barrier, out: Any) -> None:
    store = Store(url)
    won = []
    for i in range(PERIODS):
        start.wait()  # every racer claims period i at the same moment
        if store.runs.claim("weekly", _period(i), "schedule", me, T0, LEASE) is not None:
            won.append(i)
    # every period's lease then runs out: all race to take the stale claims over
    for i in range(PERIODS):
        start.wait()
        later = T0 + LEASE * 2
        if store.runs.claim("weekly", _period(i), "schedule", me, later, LEASE) is not None:
            won.append(PERIODS + i)
    store.close()
    out.put((me, won))


def _race_chunks(url: str, me: str, issue_id: int, ranges: list[tuple[int, int]], out: Any) -> None:
    store = Store(url)
    got: list[int] = []
    for n, (first, last) in enumerate(ranges):
        rows, _ = store.issues.claim(
            issue_id, "", first, last, f"{me}-{n}", T0, owner=me, lease_until=T0 + LEASE
        )
        got.extend(r.subscriber_id for r in rows)
    store.close()
    out.put((me, got))


def _processes(target: Any, args: list[tuple[Any, ...]]) -> list[tuple[str, list[int]]]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*a, out)) for a in args]
    for p in procs:
        p.start()
    results = [out.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return results


def test_processes_racing_for_period_claims_on_postgres_get_one_winner_each(
    postgres_url: str,
) -> None:
    Store(postgres_url).close()  # created at head once, before the race
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(RACERS, timeout=120)
    results = _processes(_race_periods, [(postgres_url, f"host{n}:1:x", start) for n in range(3)])
    winners: dict[int, list[str]] = {}
    for me, won in results:
        for i in won:
            winners.setdefault(i, []).append(me)
    assert sorted(winners) == list(range(2 * PERIODS))  # every claim and takeover was taken
    assert all(len(w) == 1 for w in winners.values()), winners  # by exactly one racer
    store = Store(postgres_url)
    with store.begin() as conn:
        started = conn.execute(select(func.count()).select_from(runs)).scalar()
    assert started == 2 * PERIODS  # a loser left no run behind
    for i in range(PERIODS):
        holder = store.runs.holder("weekly", _period(i))
        assert holder is not None and holder.owner == winners[PERIODS + i][0]
    store.close()


def _ledger(store: Store, readers: int) -> tuple[int, list[tuple[int, int]]]:
    """An issue of the weekly list planned for ``readers`` readers, and its id ranges."""
    list_id = store.subscribers.list_id("weekly")
    with store.begin() as conn:
        conn.execute(
            insert(subscribers),
            [
                {"list_id": list_id, "email": f"r{n}@example.org", "name": "", "areas": [],
                 "status": "active", "in_roster": True, "updated_at": T0}
                for n in range(readers)
            ],
        )  # fmt: skip
    issue = store.issues.create(list_id, 1, _period(0), [], EMAIL, T0)
    assert issue is not None
    store.issues.plan_active(issue.id, list_id, T0)
    ranges = [(r.first, r.last) for r in store.issues.pending(issue.id, "", PLANNED, CHUNK)]
    return issue.id, ranges


def test_processes_racing_for_the_same_ledger_chunks_on_postgres_never_share_a_row(
    postgres_url: str,
) -> None:
    store = Store(postgres_url)
    issue_id, ranges = _ledger(store, READERS)
    orders = [ranges, ranges[::-1], ranges[len(ranges) // 2 :] + ranges[: len(ranges) // 2]]
    results = _processes(
        _race_chunks, [(postgres_url, f"host{n}:1:x", issue_id, o) for n, o in enumerate(orders)]
    )
    taken = [sid for _, got in results for sid in got]
    assert len(taken) == len(set(taken)) == READERS  # every row claimed, none twice
    with store.begin() as conn:
        owners = dict(
            conn.execute(
                select(deliveries.c.subscriber_id, chunk_leases.c.owner).join(
                    chunk_leases, chunk_leases.c.chunk == deliveries.c.chunk
                )
            ).all()
        )
    assert {me: sorted(got) for me, got in results} == {
        me: sorted(s for s, o in owners.items() if o == me) for me, _ in results
    }
    assert store.issues.counts(issue_id) == {SUBMITTED: READERS}
    store.close()


def test_a_resume_leaves_chunks_under_a_live_lease_to_their_owner(database_url: str) -> None:
    store = Store(database_url)
    issue_id, ranges = _ledger(store, 3 * CHUNK)
    (a0, a1), (b0, b1), (c0, c1) = ranges
    store.issues.claim(issue_id, "", a0, a1, "worker", T0, owner="w:1:x", lease_until=T0 + LEASE)
    store.issues.claim(issue_id, "", b0, b1, "inproc", T0, owner="me:1:x")  # no lease of its own
    assert store.issues.chunk_lease("worker") == ("w:1:x", T0 + LEASE)

    # a resume inside the worker's lease: only the in-process chunk was interrupted
    assert store.issues.interrupted(issue_id, resend=False, now=T0 + LEASE / 2) == CHUNK
    assert store.issues.counts(issue_id) == {SUBMITTED: CHUNK, UNKNOWN: CHUNK, PLANNED: CHUNK}

    assert not store.issues.renew_chunk("worker", "other:2:y", T0 + LEASE * 3)  # not theirs
    assert store.issues.renew_chunk("worker", "w:1:x", T0 + LEASE * 2)
    assert store.issues.interrupted(issue_id, resend=False, now=T0 + LEASE * 3 / 2) == 0
    # the worker died: once its lease has run out, its rows are unknown, never resent
    assert store.issues.interrupted(issue_id, resend=False, now=T0 + LEASE * 3) == CHUNK
    assert store.issues.counts(issue_id) == {UNKNOWN: 2 * CHUNK, PLANNED: CHUNK}
    assert c1 >= c0
    store.close()


def _run_lease(store: Store, run_id: int) -> datetime | None:
    with store.begin() as conn:
        lease: datetime | None = conn.execute(
            select(runs.c.lease_until).where(runs.c.id == run_id)
        ).scalar_one()
    return lease


def test_finishing_a_run_while_its_lease_is_renewed_does_not_deadlock(postgres_url: str) -> None:
    """The lease thread renews while the send thread records the outcome, each on its own
    connection: whatever the interleaving, both finish and the claim ends without a lease.

    The renewal is held right after its first update until the finish has begun, which is
    the interleaving in which two lock orders deadlock (seen in CI on PostgreSQL).
    """
    store = Store(postgres_url)
    run = store.runs.claim("weekly", _period(0), "manual", "me:1:x", T0, LEASE)
    assert run is not None
    renewed_a_claim, finish_began = threading.Event(), threading.Event()
    renewer: list[threading.Thread] = []

    def hold_the_renewal(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if threading.current_thread() in renewer and statement.startswith("UPDATE"):
            renewed_a_claim.set()
            finish_began.wait(timeout=30)

    def mark_the_finish(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if threading.current_thread() is threading.main_thread():
            finish_began.set()

    errors: list[BaseException] = []
    results: list[bool] = []

    def renew() -> None:
        try:
            results.append(store.runs.renew(run.id, "me:1:x", T0 + 2 * LEASE))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    event.listen(store.runs.engine, "after_cursor_execute", hold_the_renewal)
    event.listen(store.runs.engine, "before_cursor_execute", mark_the_finish)
    try:
        renewer.append(threading.Thread(target=renew))
        renewer[0].start()
        assert renewed_a_claim.wait(timeout=30)
        store.runs.finish(run.id, "sent", T0 + LEASE / 2)
        renewer[0].join(timeout=60)
    finally:
        event.remove(store.runs.engine, "after_cursor_execute", hold_the_renewal)
        event.remove(store.runs.engine, "before_cursor_execute", mark_the_finish)
    assert not errors, errors
    assert results == [True]  # the run was ours all along: not reported as lost
    holder = store.runs.holder("weekly", _period(0))
    assert holder is not None and (holder.outcome, holder.lease_until) == ("sent", None)
    assert _run_lease(store, run.id) is None

    # a renewal that comes after the finish does not give the finished claim a lease again
    assert store.runs.renew(run.id, "me:1:x", T0 + 3 * LEASE)
    holder = store.runs.holder("weekly", _period(0))
    assert holder is not None and (holder.outcome, holder.lease_until) == ("sent", None)
    assert _run_lease(store, run.id) is None
    store.close()
