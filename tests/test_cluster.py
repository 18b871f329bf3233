"""The local cluster (``scripts/cluster.py``): workers, two schedulers and the web, for real.

Real PostgreSQL (a database of the test's own), real RabbitMQ (its own vhost), real
``digest`` processes, the fake SendGrid on loopback. A schedule set through the CLI while the
cluster runs must reach both schedulers, and the issue must go out through the workers
exactly once to every reader; stopping must leave no process behind.
"""

from __future__ import annotations

import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from digest.store import Store
from digest.store.schema import issues, runs
from scripts.cluster import Cluster

from .cli_helpers import run_digest
from .delivery_helpers import use_backend, write_roster
from .fake_sendgrid import FakeSendGrid
from .rabbit import fresh_vhost
from .workers_helpers import BROKER_ENV, env_for

ROOT = Path(__file__).resolve().parent.parent
READERS = 300
DEADLINE = 600.0


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as server:
        yield server


@pytest.fixture
def vhost() -> Iterator[str]:
    yield from fresh_vhost()


def clustered(project: Path, database: str, sendgrid: str) -> list[str]:
    """The project on ``database``, sending through workers to ``sendgrid``; its readers."""
    emails = write_roster(project, READERS)
    config = use_backend(project, "sendgrid", host=sendgrid, batch_size=50, timeout=30.0)
    text = re.sub(r'^url = ".*"$', f'url = "{database}"', config.read_text(), count=1, flags=re.M)
    text += (
        f'\n[workers]\nbroker_env = "{BROKER_ENV}"\nqueue = "cl-{secrets.token_hex(4)}"\n'
        '\n[scheduler]\npoll = "1s"\n'
    )
    config.write_text(text, encoding="utf-8")
    return emails


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def rows(store: Store, table: object) -> list[dict[str, object]]:
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(table)).mappings()]  # type: ignore[arg-type]


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie awaiting its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_scheduled_issue_goes_out_once_through_the_cluster(
    project: Path, postgres_url: str, vhost: str, fake: FakeSendGrid
) -> None:
    emails = clustered(project, postgres_url, fake.url)
    env = env_for(vhost)
    store = Store(postgres_url, check_schema=False)
    with Cluster(project, workers=2, schedulers=2, env=env) as cluster:
        assert len(cluster.roles) == 5 and cluster.web_url
        pids = cluster.pids()
        assert len(pids) >= 7  # 5 leaders and each worker's pool process
        owners = {r.detail for r in cluster.roles if r.kind == "scheduler"}
        assert len(owners) == 2

        # ops change the schedule on a running cluster: both schedulers must pick it up
        done = run_digest(
            project, "schedule", "set", "weekly", "*/10 * * * * *", "--timezone", "UTC", env=env
        )
        assert done.returncode == 0, done.stderr
        wait_for(lambda: any(r["outcome"] == "sent" for r in rows(store, runs)), "a sent run")
        fake.settle()

        # every reader exactly once, all through the workers' chunk tasks
        assert fake.received == Counter(emails)
        assert [r["status"] for r in rows(store, issues)] == ["sent"]
        assert sum(r["outcome"] == "sent" for r in rows(store, runs)) == 1
        tasks = sum(r.text().count("succeeded in") for r in cluster.roles if r.kind == "worker")
        assert tasks == len(fake.requests) == READERS // 50

        # the web serves the same store and key: a reader's unsubscribe link from the email
        header = fake.requests[0].body["personalizations"][0]["headers"]["List-Unsubscribe"]
        path = re.search(r"<https://digest\.example\.org(/unsubscribe/[^>]+)>", header)
        assert path is not None
        with urllib.request.urlopen(cluster.web_url + path.group(1), timeout=60) as answer:
            page = answer.read().decode()
        assert answer.status == 200
        assert fake.requests[0].emails[0] in page
        pids = cluster.pids()

    assert not [p for p in pids if alive(p)]
    assert all(r.proc.returncode is not None for r in cluster.roles)
    beats = store.runs.heartbeats()
    assert {b["owner"] for b in beats} == owners
    assert {b["state"] for b in beats} == {"stopped"}  # each scheduler stopped by itself
    store.close()


def test_the_script_stops_everything_on_sigterm(
    project: Path, postgres_url: str, vhost: str, fake: FakeSendGrid
) -> None:
    clustered(project, postgres_url, fake.url)
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "cluster.py"), "--project", str(project),
         "--workers", "1"],
        env=env_for(vhost), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        seen: list[str] = []
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("Ctrl-C"):
                break
        leaders = [int(m) for m in re.findall(r" pid (\d+)", "".join(seen))]
        assert len(leaders) == 4, "".join(seen)  # 1 worker, 2 schedulers, web
        family = [p for pid in leaders for p in descendants(pid)]
        assert len(family) >= 5
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=DEADLINE)
        assert proc.returncode == 0, out
        assert "stopped" in out
        assert not [p for p in family if alive(p)]
        store = Store(postgres_url, check_schema=False)
        assert {b["state"] for b in store.runs.heartbeats()} == {"stopped"}
        store.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def descendants(pid: int) -> list[int]:
    out = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        for kid in (task / "children").read_text().split():
            out += descendants(int(kid))
    return out
