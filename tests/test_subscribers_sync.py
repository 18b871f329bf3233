"""Roster sync rules: the database's suppressions and the subscriber's choices win over the file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event

from digest.config.load import load_settings
from digest.models import Subscriber
from digest.store import Store
from digest.store.suppressions import SuppressionRepo
from digest.subscribers.membership import sync_list

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
BEN = "ben.carter@example.com"


def open_store(project: Path) -> tuple[Store, int]:
    settings = load_settings(project / "config.toml")
    store = Store(settings.database.url)
    return store, sync_list(settings, store, "weekly", NOW).list_id


def status(store: Store, list_id: int, email: str) -> str:
    row = store.subscribers.find(list_id, email)
    assert row is not None
    return row.status


def test_an_unsubscribe_survives_reimporting_the_unchanged_file(project: Path) -> None:
    store, list_id = open_store(project)
    row = store.subscribers.find(list_id, BEN)
    assert row is not None
    SuppressionRepo(store.engine).unsubscribe(row.id, "one-click", "web", NOW)
    for _ in range(2):
        settings = load_settings(project / "config.toml")
        counts = sync_list(settings, store, "weekly", NOW).counts
        assert counts.kept_suppressed >= 1
        assert status(store, list_id, BEN) == "unsubscribed"
    assert BEN not in {s.email for s in store.subscribers.active(list_id)}


def test_a_malformed_row_never_blocks_the_others(project: Path) -> None:
    roster = project / "subscribers" / "weekly.csv"
    good = roster.read_text(encoding="utf-8").splitlines()
    bad = [
        "not-an-address,Nobody,,active,,",
        "x@example.org,Too,Many,Cells,Here,In,This,Row",
        "y@example.org,Odd Status,,maybe,,",
        "z@example.org,Bad Date,,active,last tuesday,web",
    ]
    roster.write_text("\n".join([good[0], bad[0], *good[1:4], *bad[1:], *good[4:]]) + "\n")
    settings = load_settings(project / "config.toml")
    store = Store(settings.database.url)
    synced = sync_list(settings, store, "weekly", NOW)
    where = [str(p).split(": ", 1)[0] for p in synced.problems]
    assert where == [f"{roster}:{n}" for n in (2, 6, 7, 8)]
    emails = {r.email for r in store.subscribers.rows(synced.list_id)}
    assert emails >= {line.split(",")[0] for line in good[1:]}
    assert "z@example.org" in emails  # a bad date is reported, the row still loads
    assert not emails & {"not-an-address", "x@example.org", "y@example.org"}


def test_a_recorded_bounce_applies_to_rows_added_later(project: Path) -> None:
    store, list_id = open_store(project)
    SuppressionRepo(store.engine).add("New.Person@Example.org", "bounced", NOW, origin="sendgrid")
    roster = project / "subscribers" / "weekly.csv"
    with roster.open("a", encoding="utf-8") as f:
        f.write("New.Person@example.org,New Person,,active,2026-11-01,web\n")
    sync_list(load_settings(project / "config.toml"), store, "weekly", NOW)
    assert status(store, list_id, "New.Person@example.org") == "bounced"


def test_subscribed_at_and_source_are_kept(project: Path) -> None:
    store, list_id = open_store(project)
    row = store.subscribers.find(list_id, BEN)
    assert row is not None
    assert (row.subscribed_at, row.source) == ("2026-02-03", "website")
    roster = project / "subscribers" / "weekly.csv"
    with roster.open("a", encoding="utf-8") as f:
        f.write("late@example.org,Late,,,,\n")
    sync_list(load_settings(project / "config.toml"), store, "weekly", NOW)
    late = store.subscribers.find(list_id, "late@example.org")
    assert late is not None and late.subscribed_at == "2026-11-27"  # first seen


def test_rows_removed_from_the_file_stop_getting_mail(project: Path) -> None:
    store, list_id = open_store(project)
    roster = project / "subscribers" / "weekly.csv"
    lines = roster.read_text(encoding="utf-8").splitlines()
    roster.write_text("\n".join(line for line in lines if BEN not in line) + "\n")
    counts = sync_list(load_settings(project / "config.toml"), store, "weekly", NOW).counts
    assert counts.removed == 1
    assert BEN not in {s.email for s in store.subscribers.active(list_id)}


def test_lifting_a_suppression_reactivates_only_what_is_clear(project: Path) -> None:
    store, list_id = open_store(project)
    repo = SuppressionRepo(store.engine)
    repo.add(BEN, "bounced", NOW)
    repo.add(BEN, "unsubscribed", NOW, list_id=list_id)
    assert status(store, list_id, BEN) == "bounced"
    assert repo.remove(BEN, NOW, list_id=list_id) == 1
    assert status(store, list_id, BEN) == "bounced"  # the all-lists bounce still holds
    assert repo.remove(BEN, NOW) == 1
    assert status(store, list_id, BEN) == "active"


def test_a_first_sync_of_a_large_roster_on_postgres_looks_addresses_up_by_their_index(
    postgres_url: str,
) -> None:
    """A new table has no statistics: PostgreSQL then took a list for a few rows and read all
    of it for each batch of addresses (8.7 s a batch at 1M rows, quadratic in all). The plan
    the server picks for the last batch of a first sync must use the (list, email) index."""
    store = Store(postgres_url)
    list_id = store.subscribers.list_id("weekly")
    plans: list[str] = []

    @event.listens_for(store.engine, "after_cursor_execute")
    def explain(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        last_batch = "reader035000@example.org" in str(parameters)
        if statement.startswith("SELECT") and last_batch:
            with cursor.connection.cursor() as other:
                other.execute("EXPLAIN " + statement, parameters)
                plans.append("\n".join(r[0] for r in other.fetchall()))

    roster = [Subscriber(f"reader{i:06d}@example.org", f"Reader {i}") for i in range(40_000)]
    counts = store.subscribers.sync(list_id, roster, NOW)
    assert counts.added == 40_000
    assert len(plans) == 1  # the last batch's look-up
    scans = [line for line in plans[-1].splitlines() if "Scan" in line]
    assert any("subscribers_list_id_email_key" in line for line in scans), scans
    store.close()


def test_after_a_first_import_on_postgres_readers_are_read_without_sorting_the_list(
    postgres_url: str,
) -> None:
    """A table PostgreSQL has never analyzed is planned as a few rows: reading the readers in
    batches then sorted the whole list for every batch (minutes at 1M). A sync that changed
    that many rows brings the statistics up to date, and the batches read the (list, id)
    index in order."""
    store = Store(postgres_url)
    list_id = store.subscribers.list_id("weekly")
    roster = [Subscriber(f"reader{i:06d}@example.org", f"Reader {i}") for i in range(20_000)]
    store.subscribers.sync(list_id, roster, NOW)
    plans: list[str] = []

    @event.listens_for(store.engine, "after_cursor_execute")
    def explain(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.startswith("SELECT") and "LIMIT" in statement and not plans:
            with cursor.connection.cursor() as other:
                other.execute("EXPLAIN " + statement, parameters)
                plans.append("\n".join(r[0] for r in other.fetchall()))

    assert sum(1 for _ in store.subscribers.active(list_id)) == 20_000
    assert plans and "Sort" not in plans[0], plans
    store.close()
