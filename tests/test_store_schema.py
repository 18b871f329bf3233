"""The store's schema under Alembic: new databases at head, databases from before Alembic taken
over, SQLite upgraded on open, PostgreSQL refused until ``digest db upgrade``."""

from __future__ import annotations

import gzip
import multiprocessing
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, create_engine, select, text
from sqlalchemy import inspect as sa_inspect

from digest.errors import StoreError
from digest.store import Store
from digest.store.migrate import BASE, alembic_config, head
from digest.store.schema import SCHEMA_VERSION, deliveries, metadata
from digest.store.zones import UNPLACED

from .cli_helpers import run_digest

HEAD = head()
LEGACY = Path(__file__).parent / "data" / "legacy-meta-v2.db.gz"
"""A database written by ``digest run`` on the default project by the code of main before
Alembic (``meta.schema_version`` 2): 13 posts, issue 1 of weekly sent to 6 readers."""


def at_revision(url: str, revision: str) -> None:
    """Create the schema of ``revision`` (not head) in the empty database at ``url``."""
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)
    engine.dispose()


def before_alembic(url: str) -> None:
    """Make ``url`` look like a database from before Alembic: revision 0001, meta version 2."""
    at_revision(url, BASE)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(text("INSERT INTO meta (key, value) VALUES ('schema_version', '2')"))
    engine.dispose()


def use_database(project: Path, url: str) -> None:
    config = project / "config.toml"
    body = re.sub(r'^url = ".*"$', f'url = "{url}"', config.read_text("utf-8"), count=1, flags=re.M)
    config.write_text(body, encoding="utf-8")


def test_a_new_database_is_created_at_head(database_url: str) -> None:
    store = Store(database_url)
    found = store.schema()
    assert found.current == HEAD and found.up_to_date and found.head == "0010"
    assert store.schema_version() == SCHEMA_VERSION  # an older digest refuses it
    store.close()
    again = Store(database_url)
    assert again.schema().current == head()
    again.close()


def test_a_database_from_before_alembic_is_taken_over_with_its_rows(
    project: Path, tmp_path: Path
) -> None:
    legacy = tmp_path / "legacy.db"
    with gzip.open(LEGACY) as src, legacy.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    use_database(project, f"sqlite:///{legacy}")

    shown = run_digest(project, "db", "current")
    assert shown.returncode == 0, shown.stderr
    assert f"meta version 2 (from before Alembic); head is {HEAD}" in shown.stdout

    store = Store(f"sqlite:///{legacy}")  # SQLite upgrades itself on open
    assert store.schema().current == head() and store.schema_version() == SCHEMA_VERSION
    with store.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM posts")).scalar() == 13
        assert conn.execute(text("SELECT status, count(*) FROM deliveries GROUP BY 1")).all() == [
            ("accepted", 6)
        ]
        assert conn.execute(text("SELECT count(*) FROM chunk_leases")).scalar() == 0
    store.close()
    shown = run_digest(project, "db", "current")
    assert shown.stdout.strip().endswith(f": {HEAD} (head)"), shown.stdout
    listed = run_digest(project, "runs")
    assert listed.returncode == 0 and "sent" in listed.stdout, listed.stderr


def test_sqlite_at_an_older_revision_upgrades_itself_on_open(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    at_revision(url, BASE)
    assert Store(url, check_schema=False).schema().current == BASE
    assert Store(url).schema().current == head()


def test_postgres_refuses_an_old_schema_until_db_upgrade(project: Path, postgres_url: str) -> None:
    at_revision(postgres_url, BASE)
    use_database(project, postgres_url)

    for command_line in (("run",), ("send", "--list", "weekly"), ("collect",)):
        refused = run_digest(project, *command_line)
        assert refused.returncode == 2, (command_line, refused.stdout, refused.stderr)
        assert "out of date" in refused.stderr and "digest db upgrade" in refused.stderr
    assert Store(postgres_url, check_schema=False).schema().current == BASE  # left untouched

    shown = run_digest(project, "db", "current")
    assert shown.returncode == 0 and f"0001; head is {HEAD}" in shown.stdout, shown.stdout
    assert "postgresql" in shown.stdout
    upgraded = run_digest(project, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"upgraded 0001 -> {HEAD} (head)" in upgraded.stdout
    assert f"already at {HEAD}" in run_digest(project, "db", "upgrade").stdout
    assert run_digest(project, "db", "current").stdout.strip().endswith(f": {HEAD} (head)")
    collected = run_digest(project, "collect")
    assert collected.returncode == 0, collected.stderr


def test_postgres_from_before_alembic_is_taken_over_by_db_upgrade(
    project: Path, postgres_url: str
) -> None:
    before_alembic(postgres_url)
    use_database(project, postgres_url)
    refused = run_digest(project, "run")
    assert refused.returncode == 2 and "digest db upgrade" in refused.stderr, refused.stderr
    upgraded = run_digest(project, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"upgraded meta version 2 -> {HEAD} (head)" in upgraded.stdout
    store = Store(postgres_url)
    assert store.schema().current == head() and store.schema_version() == SCHEMA_VERSION
    store.close()


def test_an_empty_postgres_database_is_created_at_head_by_any_command(
    project: Path, postgres_url: str
) -> None:
    use_database(project, postgres_url)
    collected = run_digest(project, "collect")
    assert collected.returncode == 0, collected.stderr
    assert run_digest(project, "db", "current").stdout.strip().endswith(f": {HEAD} (head)")


def test_a_newer_schema_is_refused_by_db_upgrade_too(database_url: str) -> None:
    Store(database_url).close()
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": "9999"})
    engine.dispose()
    store = Store(database_url, check_schema=False)
    assert not store.schema().known
    with pytest.raises(StoreError, match="newer than this digest"):
        store.upgrade()
    store.close()


def test_the_revisions_build_the_schema_the_tables_declare(database_url: str) -> None:
    """A change to ``schema.py`` without its Alembic revision fails here."""
    engine = create_engine(database_url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert differences == []


def _open_store(url: str, start: Any, out: Any) -> None:
    """In a process of its own: wait for the others, then open the store."""
    start.wait(60)
    try:
        Store(url).close()
        out.put("opened")
    except Exception as exc:  # reported by the test
        out.put(f"{type(exc).__name__}: {exc}")


def test_processes_opening_a_new_sqlite_store_at_once_all_open_it(tmp_path: Path) -> None:
    """A scheduler, the desk and a worker started together on a new project: each opens the
    store at the same moment. They failed with "table ... already exists" (two made the
    schema) or "database is locked" (two turned the new file to WAL); one makes it, the
    others wait and find it made."""
    context = multiprocessing.get_context("spawn")
    for trial in range(3):
        url = f"sqlite:///{tmp_path / f'new-{trial}.db'}"
        start, out = context.Barrier(4), context.Queue()
        procs = [context.Process(target=_open_store, args=(url, start, out)) for _ in range(4)]
        for proc in procs:
            proc.start()
        outcomes = [out.get(timeout=600) for _ in procs]
        for proc in procs:
            proc.join(60)
        assert outcomes == ["opened"] * 4, outcomes
        with create_engine(url).connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        store = Store(url, check_schema=False)
        assert store.schema().up_to_date
        store.close()


def old_list(conn: Connection) -> dict[str, Any]:
    """Raw SQL, as at an old revision: list ``weekly``; its id and a time to write rows at."""
    list_id = conn.execute(text("INSERT INTO lists (name) VALUES ('weekly') RETURNING id"))
    return {"list": list_id.scalar_one(), "now": datetime(2026, 11, 27, 15)}


def old_issue(conn: Connection, values: dict[str, Any]) -> int:
    """Raw SQL, as at an old revision: issue 1 of the list in ``values``, built; its id."""
    issue = conn.execute(
        text(
            "INSERT INTO issues (list_id, number, period_start, period_end, status,"
            " subject, preheader, html, text, mjml, created_at)"
            " VALUES (:list, 1, :now, :now, 'built', '', '', '', '', '', :now) RETURNING id"
        ),
        values,
    )
    return int(issue.scalar_one())


def test_0009_keeps_each_rows_wave_in_seconds_and_finds_a_row_not_yet_placed(
    database_url: str,
) -> None:
    """A ledger written at 0008 (waves as timestamps, an unplaced row NULL) keeps its waves
    through 0009 and back, and the freeze's row not yet placed gets ``UNPLACED``."""
    at_revision(database_url, "0008")
    wave = datetime(2026, 11, 29, 22, 15, tzinfo=UTC)  # Kathmandu's 07:00 (+05:45) the day after
    engine = create_engine(database_url)
    with engine.begin() as conn:
        values = old_list(conn)
        conn.execute(
            text(
                "INSERT INTO subscribers (list_id, email, name, areas, status, in_roster,"
                " updated_at) VALUES (:list, 'a@example.org', '', '[]', 'active', true, :now),"
                " (:list, 'b@example.org', '', '[]', 'active', true, :now),"
                " (:list, 'c@example.org', '', '[]', 'active', true, :now)"
            ),
            values,
        )
        issue = old_issue(conn, values)
        for email, status, at in (
            ("a@example.org", "accepted", wave.replace(tzinfo=None)),
            ("b@example.org", "waiting", None),  # the freeze had not placed it
            ("c@example.org", "planned", None),  # a send without waves
        ):
            conn.execute(
                text(
                    "INSERT INTO deliveries (issue_id, subscriber_id, email, status, attempts,"
                    " segment, updated_at, wave) SELECT :issue, id, email, :status, 0, '',"
                    " :now, :wave FROM subscribers WHERE email = :email"
                ),
                values | {"issue": issue, "email": email, "status": status, "wave": at},
            )

    def waves() -> dict[str, object]:
        with engine.connect() as conn:
            got = conn.execute(select(deliveries.c.email, deliveries.c.wave)).all()
            return {email: at for email, at in got}

    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0009")
    assert waves() == {"a@example.org": wave, "b@example.org": UNPLACED, "c@example.org": None}
    with engine.begin() as conn:
        raw = conn.execute(text("SELECT wave FROM deliveries WHERE wave IS NOT NULL")).scalars()
        assert sorted(raw) == [0, int(wave.timestamp())]  # whole seconds, as a number
        command.downgrade(alembic_config(conn), "0008")
    with engine.connect() as conn:
        back = dict(conn.execute(text("SELECT email, wave FROM deliveries")).all())
    assert {e: at and str(at)[:19] for e, at in back.items()} == {
        "a@example.org": "2026-11-29 22:15:00",
        "b@example.org": None,
        "c@example.org": None,
    }
    engine.dispose()


def test_0010_gives_each_row_its_span_and_leads_the_index_of_the_waves_with_it(
    database_url: str,
) -> None:
    """A ledger written at 0009 gets each row's span (computed by the database) through 0010,
    a wave's rows are found through the new index, and 0009 comes back on the way down."""
    at_revision(database_url, "0009")
    wave = datetime(2026, 11, 29, 22, 0, tzinfo=UTC)
    engine = create_engine(database_url)
    with engine.begin() as conn:
        values = old_list(conn)
        for reader in (7, 50_007, 120_000):
            conn.execute(
                text(
                    "INSERT INTO subscribers (id, list_id, email, name, areas, status,"
                    " in_roster, updated_at) VALUES (:id, :list, :email, '', '[]', 'active',"
                    " true, :now)"
                ),
                values | {"id": reader, "email": f"r{reader}@example.org"},
            )
        issue = old_issue(conn, values)
        conn.execute(
            text(
                "INSERT INTO deliveries (issue_id, subscriber_id, email, status, attempts,"
                " segment, updated_at, wave) SELECT :issue, id, email, 'waiting', 0, '', :now,"
                " :wave FROM subscribers"
            ),
            values | {"issue": issue, "wave": int(wave.timestamp())},
        )

    def index_columns() -> list[str]:
        with engine.connect() as conn:
            found = {i["name"]: i for i in sa_inspect(conn).get_indexes("deliveries")}
            return list(found["ix_deliveries_wave"]["column_names"])

    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0010")
    with engine.connect() as conn:
        spans = dict(conn.execute(text("SELECT subscriber_id, span FROM deliveries")).all())
    assert spans == {7: 0, 50_007: 1, 120_000: 2}
    assert index_columns() == ["issue_id", "span", "wave", "segment", "subscriber_id"]
    store = Store(database_url, check_schema=False)
    assert store.schema().up_to_date
    assert store.issues.counts(issue, [wave]) == {"waiting": 3}
    assert store.issues.waiting_segments(issue, [wave]) == [(wave, "")]
    store.close()
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0009")
    assert index_columns() == ["issue_id", "wave", "segment", "subscriber_id"]
    with engine.connect() as conn:
        assert "span" not in {c["name"] for c in sa_inspect(conn).get_columns("deliveries")}
    engine.dispose()
