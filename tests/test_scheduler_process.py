"""Real scheduler processes on second-scale schedules: exactly one issue per list and period."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text

from digest.config.load import load_settings
from digest.store import Store
from digest.store.schema import deliveries, issues, period_claims, runs

LOGS: dict[int, Path] = {}
"""Each scheduler process's log, by pid."""
DEADLINE = 600.0
"""For waits that must not run out on a busy machine (a stop, a run, a resume)."""
SCHED = ('schedule = "0 7 * * 1"          # crontab: Mondays at 07:00', "schedule = {!r}")


def configure(
    project: Path, cron: str, grace: str = "12h", subscribers: int = 0, lease: str = "10m"
) -> Store:
    """A seconds-scale schedule; ``lease`` long unless a test needs a dead scheduler's to expire."""
    config = project / "config.toml"
    text = config.read_text(encoding="utf-8")
    text = text.replace(SCHED[0], f'schedule = "{cron}"').replace(
        'timezone = "America/New_York"\n\n[taxonomy]', 'timezone = "UTC"\n\n[taxonomy]'
    )
    text += f'\n[scheduler]\ngrace = "{grace}"\nlease = "{lease}"\npoll = "1s"\n'
    config.write_text(text, encoding="utf-8")
    if subscribers:
        rows = "".join(
            f"reader{i:05d}@example.org,Reader {i},,active,,\n" for i in range(subscribers)
        )
        roster = project / "subscribers" / "weekly.csv"
        roster.write_text(roster.read_text(encoding="utf-8") + rows, encoding="utf-8")
    return Store(load_settings(config).database.url)


@pytest.fixture
def scheduler(project: Path) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}

    def start() -> subprocess.Popen[bytes]:
        path = project / f"scheduler-{len(procs)}.log"
        log = open(path, "wb")  # noqa: SIM115
        config = str(project / "config.toml")
        proc = subprocess.Popen(
            # -X faulthandler: a SIGABRT writes every thread's stack to the log (see ``stop``)
            [sys.executable, "-X", "faulthandler", "-m", "digest", "--config", config, "scheduler"],
            cwd=project,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        LOGS[proc.pid] = path
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait_for(predicate: Callable[[], bool], timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting")


def rows(store: Store, table: object) -> list[dict[str, object]]:
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(table)).mappings()]  # type: ignore[arg-type]


def job_next_run(store: Store) -> object:
    with store.engine.connect() as conn:
        return conn.execute(
            text("SELECT next_run_time FROM apscheduler_jobs WHERE id = 'list:weekly'")
        ).scalar_one()


def final_runs(store: Store) -> list[dict[str, object]]:
    return [r for r in rows(store, runs) if r["outcome"] != "running"]


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM and wait; a scheduler that does not stop is made to show where it hangs."""
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        proc.wait()
        stacks = LOGS[proc.pid].read_text(encoding="utf-8", errors="replace")
        raise AssertionError("the scheduler did not stop:\n" + stacks[-12000:]) from None
    assert code == 0


def assert_once_per_period(store: Store) -> None:
    claims = Counter(r["period_start"] for r in rows(store, period_claims))
    assert claims and max(claims.values()) == 1
    per_period = Counter(r["period_start"] for r in rows(store, issues))
    assert not per_period or max(per_period.values()) == 1
    sent = Counter(r["period_start"] for r in rows(store, runs) if r["outcome"] == "sent")
    assert not sent or max(sent.values()) == 1
    ledger = Counter((r["issue_id"], r["subscriber_id"]) for r in rows(store, deliveries))
    assert not ledger or max(ledger.values()) == 1


def test_two_schedulers_on_one_database(
    project: Path, scheduler: Callable[[], subprocess.Popen[bytes]]
) -> None:
    store = configure(project, "*/5 * * * * *")  # roomy: a run must not outlast a period
    a, b = scheduler(), scheduler()
    wait_for(
        lambda: (
            len(final_runs(store)) >= 3 and any(r["outcome"] == "sent" for r in final_runs(store))
        )
    )
    stop(a)
    stop(b)
    assert_once_per_period(store)
    beats = store.runs.heartbeats()
    assert len(beats) == 2 and {b["state"] for b in beats} == {"stopped"}
    files = list((project / "outbox").glob("weekly/*/*.eml"))
    assert len(files) == 6 * len([r for r in rows(store, issues)])


def test_restart_after_missed_runs_inside_and_outside_grace(
    project: Path, scheduler: Callable[[], subprocess.Popen[bytes]]
) -> None:
    store = configure(project, "*/2 * * * * *", grace="1s")
    first = scheduler()
    wait_for(lambda: len(final_runs(store)) >= 1)
    stop(first)
    down_from = max(r["period_end"] for r in rows(store, period_claims))
    time.sleep(5)  # at least two fire times pass while no scheduler runs
    second = scheduler()
    wait_for(lambda: any(r["outcome"] == "missed" for r in final_runs(store)))
    stop(second)
    assert_once_per_period(store)
    after = [r for r in final_runs(store) if r["period_end"] > down_from]  # type: ignore[operator]
    missed = [r for r in after if r["outcome"] == "missed"]
    assert any("scheduler was down" in str(r["detail"]) for r in missed)
    assert all(
        "scheduler was down" in str(r["detail"]) or "skipped while" in str(r["detail"])
        for r in missed
    )

    # inside the grace time, the latest missed period is run on restart instead
    config = project / "config.toml"
    config.write_text(config.read_text().replace('grace = "1s"', 'grace = "1h"'))
    time.sleep(3)
    seen = max(int(str(r["id"])) for r in rows(store, runs))
    third = scheduler()
    wait_for(
        lambda: any(
            r["trigger"] == "catch-up" and int(str(r["id"])) > seen for r in final_runs(store)
        )
    )
    stop(third)
    assert_once_per_period(store)


def test_sigkill_mid_run_then_restart_resumes(
    project: Path, scheduler: Callable[[], subprocess.Popen[bytes]]
) -> None:
    # the killed scheduler's claim is taken over once its lease runs out: short, and waited for
    store = configure(project, "*/10 * * * * *", subscribers=1200, lease="15s")

    def accepted() -> int:
        return sum(1 for r in rows(store, deliveries) if r["status"] == "accepted")

    proc = scheduler()
    wait_for(lambda: accepted() > 50)
    proc.kill()
    proc.wait()
    (issue,) = rows(store, issues)
    total = sum(1 for r in rows(store, deliveries) if r["issue_id"] == issue["id"])
    assert accepted() < total  # killed mid-send
    assert any(r["outcome"] == "running" for r in rows(store, period_claims))
    restarted = scheduler()
    wait_for(
        lambda: any(r["trigger"] == "resume" and r["outcome"] == "sent" for r in final_runs(store))
    )
    stop(restarted)
    assert_once_per_period(store)
    folder = project / "outbox" / "weekly"
    files = [f.name for f in folder.glob(f"*-{issue['number']}/*.eml")]
    assert len(files) == total == len(set(files))
    statuses = Counter(r["status"] for r in rows(store, deliveries) if r["issue_id"] == issue["id"])
    assert statuses == {"accepted": total}


def test_pause_and_resume_from_a_second_process(
    project: Path, scheduler: Callable[[], subprocess.Popen[bytes]]
) -> None:
    store = configure(project, "*/2 * * * * *")
    proc = scheduler()
    wait_for(lambda: len(final_runs(store)) >= 1)
    config = str(project / "config.toml")
    subprocess.run(
        [sys.executable, "-m", "digest", "--config", config, "schedule", "pause", "weekly"],
        check=True,
    )
    wait_for(lambda: job_next_run(store) is None)  # the scheduler has seen the pause
    paused_seen = datetime.now(UTC)
    time.sleep(5)
    # a run already dispatched may still start; none may be for a fire time after the pause
    assert not [r for r in rows(store, runs) if r["period_end"] > paused_seen]  # type: ignore[operator]
    paused_at = len(rows(store, runs))
    subprocess.run(
        [sys.executable, "-m", "digest", "--config", config, "schedule", "resume", "weekly"],
        check=True,
    )
    wait_for(lambda: len(rows(store, runs)) > paused_at)
    stop(proc)
    assert_once_per_period(store)
