"""Two ``digest scheduler`` processes with different host names on one PostgreSQL, one of them
SIGKILLed mid-send: the other takes the period over once its lease runs out and resumes it
from the ledger. One issue per period; each reader gets it once, or is ``unknown``.

Each scheduler runs in a UTS namespace of its own (``unshare --uts``) with its own host name,
so their lease owners (``host:pid:random``) differ by host as on two machines.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from digest.store import Store
from digest.store.schema import deliveries, runs

from .cli_helpers import cli_env
from .delivery_helpers import API_KEY, SIGNING_KEY, use_backend, write_roster
from .faults_helpers import CuttingSendGrid, use_postgres
from .test_scheduler_process import DEADLINE, assert_once_per_period, configure, stop, wait_for

HOSTS = ("host-a", "host-b")
RECIPIENTS, BATCH, KILL_AT = 2000, 50, 9


def needs_unshare() -> None:
    """Skip (fail under ``CI=true``) where a UTS namespace cannot be made."""
    why = None
    if shutil.which("unshare") is None:
        why = "unshare is not installed"
    else:
        done = subprocess.run(["unshare", "--uts", "true"], capture_output=True, text=True)
        if done.returncode:
            why = f"unshare --uts is not permitted here: {done.stderr.strip()}"
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)


@pytest.fixture
def on_host(project: Path) -> Iterator[Callable[[str], subprocess.Popen[bytes]]]:
    """Start ``digest scheduler`` as if on host ``name``; every one is killed at the end."""
    needs_unshare()
    procs: list[subprocess.Popen[bytes]] = []
    env = cli_env(SENDGRID_API_KEY=API_KEY, DIGEST_SIGNING_KEY=SIGNING_KEY)

    def start(name: str) -> subprocess.Popen[bytes]:
        log = open(project / f"scheduler-{name}.log", "wb")  # noqa: SIM115
        command = f'hostname {name} && exec "$0" -m digest --config config.toml scheduler'
        # unshare and sh exec in turn: the scheduler keeps the pid Popen knows
        proc = subprocess.Popen(
            ["unshare", "--uts", "sh", "-c", command, sys.executable],
            cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_scheduler_killed_mid_send_on_one_host_is_resumed_by_the_other(
    project: Path,
    postgres_url: str,
    on_host: Callable[[str], subprocess.Popen[bytes]],
) -> None:
    use_postgres(project, postgres_url)
    emails = write_roster(project, RECIPIENTS)
    procs: dict[int, subprocess.Popen[bytes]] = {}
    killed: list[str] = []

    def kill_the_sender(n: int) -> None:
        """On the KILL_AT-th request, before answering it: SIGKILL the scheduler sending."""
        if n != KILL_AT:
            return
        (owner,) = [str(r["owner"]) for r in history(store) if r["outcome"] == "running"]
        pid = int(owner.split(":")[1])
        procs[pid].send_signal(signal.SIGKILL)
        procs[pid].wait()
        killed.append(owner)

    with CuttingSendGrid(kill_the_sender) as fake:
        use_backend(
            project, "sendgrid", host=fake.url, batch_size=BATCH, workers=1, timeout=120.0,
            backoff=0.001, backoff_max=0.01,
        )  # fmt: skip
        store = configure(project, "*/10 * * * * *", lease="3s")
        for host in HOSTS:
            proc = on_host(host)
            procs[proc.pid] = proc
        # both start on the new database (they race to create APScheduler's table) and beat
        crashed = lambda: [p for p in procs.values() if (p.poll() or 0) > 0]  # noqa: E731
        wait_for(lambda: len(store.runs.heartbeats()) == 2 or bool(crashed()))
        assert not crashed(), "a scheduler did not start"
        wait_for(lambda: bool(killed))
        resumed = lambda: [  # noqa: E731
            r for r in history(store) if r["trigger"] == "resume" and r["outcome"] != "running"
        ]
        wait_for(lambda: bool(resumed()))
        for proc in procs.values():
            if proc.poll() is None:
                stop(proc)
        fake.settle(DEADLINE)
    (dead,) = killed
    (resume,) = resumed()
    took_over = str(resume["owner"])
    assert dead.split(":")[0] in HOSTS and took_over.split(":")[0] in HOSTS
    assert dead.split(":")[0] != took_over.split(":")[0]  # the other host took it over
    period = [r for r in history(store) if r["period_start"] == resume["period_start"]]
    assert {str(r["owner"]).split(":")[0] for r in period} == set(HOSTS)  # both in the history
    assert_once_per_period(store)
    # each reader once, or unknown: the chunk the dead host had out is unknown, never resent
    assert fake.violations == []
    assert set(fake.received.values()) == {1}
    assert sorted(fake.received) == emails  # the killed request had reached SendGrid
    with store.engine.connect() as conn:
        statuses = Counter(conn.execute(select(deliveries.c.status)).scalars())
    assert statuses == {"accepted": RECIPIENTS - BATCH, "unknown": BATCH}
    assert resume["outcome"] == "failed" and "unknown" in str(resume["detail"])


def history(store: Store) -> list[dict[str, object]]:
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(runs).order_by(runs.c.id)).mappings()]
