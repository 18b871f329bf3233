"""Two wave runs of one issue at once on PostgreSQL (two schedulers, a slow earlier wave):
moving readers who changed zone and releasing a wave touch the same waiting rows, and must
not deadlock whatever order each takes them in."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, event, insert, select, text, update

from digest.models import Window
from digest.store import Store
from digest.store.schema import deliveries, subscribers
from digest.store.zones import Placing

from .test_wave_sends import EMAIL, KATHMANDU, NEW_YORK, TOKYO

SLOTS = {"Asia/Tokyo": TOKYO, "Asia/Kathmandu": KATHMANDU, "America/New_York": NEW_YORK}


def placing(released: datetime) -> Placing:
    """A run of the ``released`` wave: zones still ahead keep their wave, the rest go now."""

    def target(zone: str) -> datetime:
        return SLOTS[zone] if SLOTS[zone] >= released else released

    return Placing(
        "America/New_York", tuple(SLOTS), SLOTS.__getitem__, target, frozenset({released})
    )


def _waiting_on_a_lock(url: str, timeout: float = 30.0) -> bool:
    """Whether a backend of this (the test's own) database comes to wait on a lock."""
    engine = create_engine(url)
    deadline = time.monotonic() + timeout
    try:
        with engine.connect() as conn:
            while time.monotonic() < deadline:
                waiting = conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND wait_event_type = 'Lock'"
                    )
                ).scalar_one()
                conn.rollback()  # the activity view is read once per transaction
                if waiting:
                    return True
                time.sleep(0.02)
    finally:
        engine.dispose()
    return False


def test_moving_readers_while_their_old_wave_is_released_does_not_deadlock(
    postgres_url: str,
) -> None:
    """Wave B's run moves two readers who changed zone (r, then s) off wave A, while wave
    A's run releases its rows, which it reaches in the other order (s was frozen on the wave,
    r joined it after). B is held after moving r until A waits on a lock; then both must
    finish, and each reader's row is on exactly one wave."""
    store = Store(postgres_url)
    list_id = store.subscribers.list_id("weekly")
    frozen_at = TOKYO - timedelta(days=1)

    def reader(email: str, status: str) -> dict[str, Any]:
        zone = "Asia/Kathmandu"
        return {"list_id": list_id, "email": email, "name": "", "areas": [], "status": status,
                "in_roster": True, "updated_at": frozen_at, "timezone": zone}  # fmt: skip

    with store.begin() as conn:
        conn.execute(
            insert(subscribers),
            [reader("r@example.org", "unsubscribed"), reader("s@example.org", "active")]
            + [reader(f"k{i}@example.org", "active") for i in range(20)],
        )
    issue = store.issues.create(
        list_id, 1, Window(TOKYO, TOKYO), [], EMAIL, frozen_at, waves=(TOKYO,)
    )
    assert issue is not None
    # the Tokyo wave's run freezes the ledger: the Kathmandu readers wait for theirs
    store.issues.plan_waves(issue, placing(TOKYO), frozen_at, None, store.subscribers.active)
    issue = store.issues.by_number(list_id, 1)
    # r comes back: the next run puts r's new row on the Kathmandu wave, after every other
    r_back = frozen_at + timedelta(hours=1)
    with store.begin() as conn:
        conn.execute(
            update(subscribers)
            .where(subscribers.c.email == "r@example.org")
            .values(status="active", updated_at=r_back)
        )
    assert store.issues.plan_changed(issue.id, list_id, frozen_at, r_back, placing(TOKYO)) == 1
    # then r and s move to New York, r first
    for n, email in enumerate(("r@example.org", "s@example.org")):
        with store.begin() as conn:
            conn.execute(
                update(subscribers)
                .where(subscribers.c.email == email)
                .values(timezone="America/New_York", updated_at=r_back + timedelta(minutes=n + 1))
            )
    now = r_back + timedelta(hours=1)

    b_moved_a_row, a_waits = threading.Event(), threading.Event()
    b_thread: list[threading.Thread] = []

    def hold_b(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        b_moves = (
            statement.startswith("UPDATE deliveries") and threading.current_thread() in b_thread
        )
        if b_moves and not b_moved_a_row.is_set():
            b_moved_a_row.set()
            a_waits.wait(timeout=30)

    errors: list[BaseException] = []
    moved: list[int] = []
    released: list[int] = []

    def run_b() -> None:
        try:
            moved.append(
                store.issues.plan_changed(issue.id, list_id, frozen_at, now, placing(NEW_YORK))
            )
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    def run_a() -> None:
        try:
            released.append(store.issues.release(issue.id, {KATHMANDU}, now))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    event.listen(store.engine, "after_cursor_execute", hold_b)
    try:
        b_thread.append(threading.Thread(target=run_b))
        b_thread[0].start()
        assert b_moved_a_row.wait(timeout=30)
        a = threading.Thread(target=run_a)
        a.start()
        assert _waiting_on_a_lock(postgres_url)
        a_waits.set()
        a.join(timeout=60)
        b_thread[0].join(timeout=60)
    finally:
        a_waits.set()
        event.remove(store.engine, "after_cursor_execute", hold_b)
    assert not errors, errors

    with store.begin() as conn:
        rows = conn.execute(
            select(subscribers.c.email, deliveries.c.status, deliveries.c.wave).join(
                subscribers, subscribers.c.id == deliveries.c.subscriber_id
            )
        ).all()
    assert len(rows) == 22 and len({e for e, _, _ in rows}) == 22  # one row each
    by_email = {e: (s, w) for e, s, w in rows}
    # B moved both before A released (A waited for B): they go with New York's wave, B's
    assert moved == [2] and released == [20]
    assert by_email["r@example.org"] == by_email["s@example.org"] == ("planned", NEW_YORK)
    assert {by_email[f"k{i}@example.org"] for i in range(20)} == {("planned", KATHMANDU)}
    store.close()
