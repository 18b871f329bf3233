"""Schedulers starting at the same moment on a new database both start."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text

from digest.config.load import load_settings
from digest.pipeline import Pipeline
from digest.scheduler import Scheduler

from .cli_helpers import run_digest


def test_a_scheduler_starts_while_another_creates_the_job_table(
    project: Path, postgres_url: str
) -> None:
    """The second of two schedulers starting at once died on APScheduler's CREATE TABLE."""
    config = project / "config.toml"
    text_ = re.sub(r'^url = ".*"$', f'url = "{postgres_url}"', config.read_text(), flags=re.M)
    config.write_text(text_ + '\n[scheduler]\npoll = "1h"\n', encoding="utf-8")
    assert run_digest(project, "db", "upgrade").returncode == 0
    pipeline = Pipeline(load_settings(config))
    scheduler = Scheduler(pipeline)
    other = create_engine(postgres_url)
    creating = other.connect()
    creating.begin()
    scheduler.jobstore.jobs_t.create(creating)  # the first scheduler, mid-CREATE
    failed: list[BaseException] = []

    def start() -> None:
        try:
            scheduler.start()
        except BaseException as exc:
            failed.append(exc)

    starting = threading.Thread(target=start)
    starting.start()
    try:
        deadline = time.monotonic() + 600
        while not waiting_on_a_lock(other):  # its CREATE waits for the first's
            assert starting.is_alive() and time.monotonic() < deadline, failed
            time.sleep(0.05)
        creating.commit()
        starting.join(600)
        assert not failed, failed
        assert scheduler.aps.get_job("list:weekly") is not None
    finally:
        creating.close()
        if not failed:
            scheduler.stop()
        other.dispose()
        pipeline.close()


def waiting_on_a_lock(engine: Engine) -> bool:
    """Whether a session of the database waits for another's lock."""
    with engine.connect() as conn:
        return bool(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        )


def test_a_scheduler_starts_when_the_job_table_appears_between_its_look_and_its_create(
    project: Path,
) -> None:
    """Two schedulers starting at once on one database: both look, both find no job table,
    the other creates it first. On SQLite the second CREATE fails with an OperationalError
    ("table apscheduler_jobs already exists"), which killed a scheduler of the two-scheduler
    test under load; on PostgreSQL with a ProgrammingError."""
    config = project / "config.toml"
    config.write_text(config.read_text() + '\n[scheduler]\npoll = "1h"\n', encoding="utf-8")
    assert run_digest(project, "db", "upgrade").returncode == 0
    pipeline = Pipeline(load_settings(config))
    scheduler = Scheduler(pipeline)
    other = create_engine(pipeline.store.engine.url)
    raced: list[str] = []

    def the_other_creates_it_first(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.strip().startswith("CREATE TABLE apscheduler_jobs") and not raced:
            raced.append(statement)
            scheduler.jobstore.jobs_t.create(other)

    event.listen(pipeline.store.engine, "before_cursor_execute", the_other_creates_it_first)
    try:
        scheduler.start()
        assert raced  # the CREATE it tried came after the other's
        assert scheduler.aps.get_job("list:weekly") is not None
        scheduler.stop()
    finally:
        event.remove(pipeline.store.engine, "before_cursor_execute", the_other_creates_it_first)
        other.dispose()
        pipeline.close()
