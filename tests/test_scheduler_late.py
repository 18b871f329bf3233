"""A scheduler process that wakes late for a fire (a busy machine) still runs it."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent

from digest.config.load import load_settings
from digest.pipeline import Pipeline
from digest.scheduler import Scheduler


def test_a_fire_the_process_woke_late_for_is_run_not_dropped(project: Path) -> None:
    """APScheduler dropped a fire more than 1 s late as "missed", without a run or a trace;
    only ``[scheduler] grace`` decides how late is too late."""
    config = project / "config.toml"
    config.write_text(config.read_text() + '\n[scheduler]\ngrace = "30d"\npoll = "1h"\n')
    pipeline = Pipeline(load_settings(config))
    scheduler = Scheduler(pipeline)
    events: list[JobExecutionEvent] = []
    done = threading.Event()

    def seen(event: JobExecutionEvent) -> None:
        if event.job_id == "list:weekly":
            events.append(event)
            done.set()

    scheduler.aps.add_listener(seen, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED)
    scheduler.start()
    try:
        job = scheduler.aps.get_job("list:weekly")
        assert job is not None
        job.modify(next_run_time=scheduler.clock() - timedelta(seconds=30))  # woke 30 s late
        assert done.wait(600), "the late fire never came"
    finally:
        scheduler.stop()
    assert [e.code for e in events] == [EVENT_JOB_EXECUTED]
    history = [r for r in pipeline.store.runs.history("weekly") if r.trigger == "schedule"]
    assert len(history) == 1
    pipeline.close()
