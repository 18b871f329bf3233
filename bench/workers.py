"""Workers benchmark: one list's send to the local fake SendGrid, in-process and through Celery.

Four modes in one run, each on a fresh project with N subscribers, collected, then
``digest send`` timed as a subprocess (roster sync, build, plan, send, record):

1. in-process on SQLite (today's path);
2. in-process on PostgreSQL (a fresh database, dropped afterwards);
3. and 4. through Celery on PostgreSQL with 1 and 2 ``digest worker`` processes
   (``--concurrency 1`` each), started and ready through ``scripts/cluster.py`` (workers only).

Each mode gets a fake SendGrid process of its own, so its figures are its own. Printed per
mode: wall time, CPU seconds of all digest processes (the send, the workers' main and pool
processes), the fake's CPU seconds (its share of the 2 cores), peak RSS per process, and
ratios to the in-process SQLite path. Per chunk, over the sending phase (from the first
request the fake sees to its last answer): wall, CPU of the sender and of the workers, the
fake's handling time, and on PostgreSQL the database's transactions and busy time from
``pg_stat_database`` (``xact_commit``, ``active_time``: pg_stat_statements is not loaded on
a stock server). The ledger planning time is measured on each finished in-process store by
dropping the issue's ledger and planning it again (``plan_active``, as ``digest send`` does).
Then the commit rate of PostgreSQL and the publish-with-confirm rate of RabbitMQ are
measured, and a projection on paper gives throughput and PostgreSQL load at 4, 16 and 64
workers, with the first bottleneck. Progress goes to stderr.

    .venv/bin/python bench/workers.py [--recipients 1000000] [--postgres URL]
        [--sendgrid-rps 10000] [--pg-cores 2]

Needs PostgreSQL on 127.0.0.1:5432 and RabbitMQ on 127.0.0.1:5672 (a vhost is made and removed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, delete, make_url, text  # noqa: E402

from bench.paper import Figures, commit_rate, publish_rate, report  # noqa: E402
from digest.store import Store  # noqa: E402
from digest.store.schema import chunk_leases, deliveries  # noqa: E402
from scripts.cluster import (  # noqa: E402
    BROKER_ENV,
    POSTGRES,
    Cluster,
    descendants,
    postgres_database,
    rabbit_vhost,
)
from tests.delivery_helpers import SIGNING_KEY, use_backend  # noqa: E402

KEY = "SG.bench-key"
TICK = os.sysconf("SC_CLK_TCK")
STARTED = time.monotonic()


def say(message: str) -> None:
    """A progress line on stderr, so a long run shows it is alive."""
    print(f"[{time.monotonic() - STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a live process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def peak_mb(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def write_roster(project: Path, count: int) -> None:
    """``count`` active subscribers, written a line at a time (no million-row list)."""
    with (project / "subscribers" / "weekly.csv").open("w", encoding="utf-8") as out:
        out.write("email,name,areas,status,subscribed_at,source\n")
        for i in range(1, count + 1):
            out.write(f"reader{i:07d}@example.org,Reader {i},,active,2026-01-01,bench\n")


def project(tmp: Path, n: int, fake: str, database: str, broker: str | None) -> Path:
    """The default project on ``database`` with ``n`` readers, sending to the fake."""
    for name in ("templates", "subscribers", "posts"):
        shutil.copytree(ROOT / name, tmp / name)
    config = (ROOT / "config.toml").read_text(encoding="utf-8")
    shared = ROOT.parent / "shared" / "samples"
    config = config.replace('path = "../shared/samples"', f'path = "{shared}"')
    config = config.replace('url = "sqlite:///digest.db"', f'url = "{database}"')
    (tmp / "config.toml").write_text(config, encoding="utf-8")
    write_roster(tmp, n)
    path = use_backend(tmp, "sendgrid", host=fake, timeout=60.0)
    if broker:
        queue = f"bench-{secrets.token_hex(4)}"
        extra = f'\n[workers]\nbroker_env = "{BROKER_ENV}"\nqueue = "{queue}"\n'
        path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return tmp


class Fake:
    """A fake SendGrid process of one mode's own."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fake_sendgrid", "--no-validate", "--key", KEY],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/stats", timeout=60) as answer:
            return dict(json.loads(answer.read()))

    def cpu(self) -> float:
        return cpu_of(self.proc.pid)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)


class DbStats:
    """A database's transactions and busy time from pg_stat_database (nothing on SQLite)."""

    def __init__(self, server: str, url: str):
        postgres = url.startswith("postgresql")
        self.name = make_url(url).database if postgres else None
        self.engine = create_engine(server, isolation_level="AUTOCOMMIT") if postgres else None

    def counters(self) -> tuple[int, float] | None:
        if self.engine is None:
            return None
        with self.engine.connect() as conn:
            xacts, busy = conn.execute(
                text(
                    "SELECT xact_commit + xact_rollback, active_time "
                    "FROM pg_stat_database WHERE datname = :name"
                ),
                {"name": self.name},
            ).one()
        return int(xacts), float(busy)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


@dataclass
class Mark:
    """What the processes had done at one moment of a send."""

    at: float
    requests: int
    send_cpu: float
    worker_cpu: float
    fake_cpu: float


class Watch:
    """Samples a send's processes until it exits, for the costs of its sending phase."""

    def __init__(self, send: subprocess.Popen[str], cluster: Cluster, fake: Fake, db: DbStats):
        self.send, self.cluster, self.fake, self.db = send, cluster, fake, db
        self.worker_before = sum(cpu_of(p) for p in cluster.pids())
        self.fake_before = fake.cpu()
        self.samples: list[Mark] = []
        """About 4 a second: 4,000 for a 1,000-second send."""
        self.first_db: tuple[int, float] | None = None

    def until_exit(self, mode: str) -> tuple[int, Any]:
        """Sample until the send exits; returns its wait status and resource usage."""
        shown = time.monotonic()
        while True:
            pid, status, usage = os.wait4(self.send.pid, os.WNOHANG)
            if pid:
                return status, usage
            sample = Mark(
                time.time(), int(self.fake.stats()["requests"]), cpu_of(self.send.pid),
                sum(cpu_of(p) for p in self.cluster.pids()) - self.worker_before,
                self.fake.cpu() - self.fake_before,
            )  # fmt: skip
            if sample.requests and not any(s.requests for s in self.samples):
                self.first_db = self.db.counters()
                say(f"{mode}: sending")
            self.samples.append(sample)
            if time.monotonic() - shown >= 30:
                shown = time.monotonic()
                say(f"{mode}: the fake has answered {sample.requests} requests")
            time.sleep(0.25 if sample.requests else 0.05)

    def per_chunk(self, stats: dict[str, Any], db: tuple[int, float] | None) -> dict[str, float]:
        """Costs per chunk over the sending phase: first request seen to the last answer."""
        started = [s for s in self.samples if s.requests]
        if not started:
            return {}
        first = started[0]
        last = next((s for s in started if s.at >= stats["last_at"]), started[-1])
        chunks = last.requests - first.requests
        if chunks < 2:
            return {}
        requests = int(stats["requests"])
        out = {
            "wall": (stats["last_at"] - stats["first_at"]) / requests,
            "send_cpu": (last.send_cpu - first.send_cpu) / chunks,
            "worker_cpu": (last.worker_cpu - first.worker_cpu) / chunks,
            "fake_cpu": (last.fake_cpu - first.fake_cpu) / chunks,
            "http": stats["busy_seconds"] / requests,
        }
        if self.first_db is not None and db is not None:
            # to the end of the send: the tail after the last chunk is a handful of queries
            out["xacts"] = (db[0] - self.first_db[0]) / (requests - first.requests)
            out["db"] = (db[1] - self.first_db[1]) / 1000 / (requests - first.requests)
        return out


def env(broker: str | None) -> dict[str, str]:
    extra = {"SENDGRID_API_KEY": KEY, "DIGEST_SIGNING_KEY": SIGNING_KEY}
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "SENDGRID_"))}
    return base | extra | ({BROKER_ENV: broker} if broker else {})


def digest(where: Path, broker: str | None, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "digest", *args], cwd=where, env=env(broker),
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


@contextlib.contextmanager
def store_url(kind: str, server: str, tmp: Path) -> Iterator[str]:
    """A fresh store: an SQLite file in ``tmp``, or a PostgreSQL database dropped after."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'bench.db'}"
    else:
        with postgres_database(server) as url:
            yield url


def forward(stream: Any, mode: str, tail: deque[str]) -> None:
    """The send's stderr (its progress lines) to ours, prefixed; the last lines kept."""
    for line in stream:
        tail.append(line)
        say(f"{mode}: {line.rstrip()}")


def run(mode: str, n: int, kind: str, workers: int, server: str, broker: str | None) -> Figures:
    """One mode: a fresh project and store, workers if any, ``digest send`` measured."""
    say(f"{mode}: preparing {n:,} subscribers")
    broker = broker if workers else None
    with (
        tempfile.TemporaryDirectory() as tmp,
        store_url(kind, server, Path(tmp)) as url,
        contextlib.closing(Fake()) as fake,
        contextlib.closing(DbStats(server, url)) as db,
    ):
        where = project(Path(tmp) / "p", n, fake.url, url, broker)
        if kind == "postgresql":
            digest(where, broker, "db", "upgrade")
        digest(where, broker, "collect")
        cluster = Cluster(where, workers=workers, schedulers=0, web=False, env=env(broker))
        with cluster if workers else contextlib.nullcontext():
            if workers:
                say(f"{mode}: {workers} worker(s) ready, pids {cluster.pids()}")
            say(f"{mode}: digest send")
            t0 = time.perf_counter()
            send = subprocess.Popen(
                [sys.executable, "-m", "digest", "send", "--list", "weekly"], cwd=where,
                env=env(broker), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            tail: deque[str] = deque(maxlen=40)
            reader = threading.Thread(target=forward, args=(send.stderr, mode, tail), daemon=True)
            reader.start()
            watch = Watch(send, cluster, fake, db)
            status, usage = watch.until_exit(mode)
            wall = time.perf_counter() - t0
            send.returncode = os.waitstatus_to_exitcode(status)
            reader.join(60)
            out = send.stdout.read() if send.stdout else ""
            assert send.returncode == 0 and f"accepted {n}" in out, out + "".join(tail)
            send_cpu = usage.ru_utime + usage.ru_stime
            worker_cpu = sum(cpu_of(p) for p in cluster.pids()) - watch.worker_before
            rss = {"send": usage.ru_maxrss / 1024}
            for role in cluster.roles:
                for j, pid in enumerate(descendants(role.proc.pid)):
                    rss[role.name + (f".pool{j}" if j else "")] = peak_mb(pid)
        stats = fake.stats()  # the workers have exited: their database statistics are flushed
        figures = Figures(
            mode, n, wall, send_cpu + worker_cpu, fake.cpu() - watch.fake_before, rss,
            int(stats["requests"]), stats["last_at"] - stats["first_at"],
        )  # fmt: skip
        figures.per_chunk = watch.per_chunk(stats, db.counters())
        if not workers:
            say(f"{mode}: measuring the ledger planning again")
            figures.plan = replan(url)
        say(f"{mode}: done in {wall:.1f}s")
        return figures


def replan(url: str) -> float:
    """Seconds to plan the finished issue's ledger again on its store (its rows dropped)."""
    store = Store(url)
    try:
        list_id = store.subscribers.list_id("weekly")
        issue = store.issues.latest(list_id)
        assert issue is not None
        with store.engine.begin() as conn:
            conn.execute(delete(chunk_leases).where(chunk_leases.c.issue_id == issue.id))
            conn.execute(delete(deliveries).where(deliveries.c.issue_id == issue.id))
        if store.engine.dialect.name == "postgresql":  # no dead rows left in the way
            with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(text("VACUUM ANALYZE deliveries"))
        started = time.perf_counter()
        planned = store.issues.plan_active(issue.id, list_id, datetime.now(UTC))
        took = time.perf_counter() - started
        assert planned > 0, planned
        return took
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument("--postgres", default=POSTGRES, help="PostgreSQL server (admin URL)")
    parser.add_argument(
        "--sendgrid-rps", type=float, default=10_000.0,
        help="Mail Send requests/s SendGrid takes (it publishes no fixed limit; see bench/paper)",
    )  # fmt: skip
    parser.add_argument("--pg-cores", type=float, default=float(os.cpu_count() or 1))
    args = parser.parse_args()
    n, server = args.recipients, args.postgres
    with rabbit_vhost() as broker:
        results = [
            run("in-process, SQLite", n, "sqlite", 0, server, None),
            run("in-process, PostgreSQL", n, "postgresql", 0, server, None),
            run("celery 1 worker, PG", n, "postgresql", 1, server, broker),
            run("celery 2 workers, PG", n, "postgresql", 2, server, broker),
        ]
        say("measuring PostgreSQL's commit rate and RabbitMQ's publish rate")
        limits = {
            "commits1": commit_rate(server, 1),
            "commits": commit_rate(server, 8),
            "publish": publish_rate(broker),
            "sendgrid": args.sendgrid_rps,
            "pg_cores": args.pg_cores,
        }
    report(results, limits)


if __name__ == "__main__":
    main()
