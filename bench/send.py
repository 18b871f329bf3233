"""Send benchmark: 100,000 and 1,000,000 subscribers through the local fake SendGrid.

The fake runs in its own process with validation off. For each size the benchmark seeds a
fresh SQLite store, then times the real send path (plan the ledger, claim each chunk, sign
links, build and post each request, record outcomes) and a floor in this same process that
only posts pre-serialized payloads of the same size with the same number of threads. It also
prints, against that floor, the official ``sendgrid`` client alone posting prebuilt bodies:
the share of the ratio that is the library's, whatever digest does.

    .venv/bin/python bench/send.py [--sizes 100000,1000000] [--workers 4] [--split 2]
        [--stores sqlite,postgresql] [--postgres URL]

``--stores`` times the same in-process send on each store: the embedded SQLite file, and a
fresh database (created and dropped here) on the PostgreSQL server of ``--postgres`` (default
the local one), skipped with a line when it does not answer. ``cpu s`` is this process's CPU
(user + system) during the send; PostgreSQL's own server CPU is not in it.

``--split N`` also sends the largest size as N processes, each to its own share of the list
with its own database, against one fake: an upper bound for a sender spread over processes.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sendgrid import SendGridAPIClient  # noqa: E402
from sqlalchemy import create_engine, make_url, text  # noqa: E402

from digest.config import load_settings  # noqa: E402
from digest.delivery.options import SendGridOptions  # noqa: E402
from digest.delivery.sendgrid import SendGridBackend, request_body  # noqa: E402
from digest.models import Recipient, RenderedEmail, Window  # noqa: E402
from digest.send import Sender  # noqa: E402
from digest.store import Store  # noqa: E402
from digest.tokens import Signer  # noqa: E402

KEY = "SG.bench-key"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
BLOCK = "<tr><td><h2>A policy post title</h2><p>{}</p><a href='https://x.org/p'>Read</a></td></tr>"
EMAIL = RenderedEmail(
    subject="Policy Blogs Weekly #12: a lead title for -name-",
    preheader="12 posts this week",
    html="<html><body><p>Hi -name_html-</p><table>"
    + "".join(BLOCK.format("Summary sentence. " * 20) for _ in range(40))
    + "</table><a href='-unsubscribe_url-'>Unsubscribe</a></body></html>",
    text="Hi -name-\n"
    + "A post title\nSummary sentence.\n" * 200
    + "Unsubscribe: -unsubscribe_url-",
    mjml="",
)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def start_fake() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_sendgrid", "--no-validate", "--key", KEY],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def seed(store: Store, count: int) -> tuple[int, int]:
    """A list of ``count`` active subscribers and a frozen issue; returns (list id, issue id)."""
    list_id = store.subscribers.list_id("bench")
    insert = "INSERT INTO subscribers (list_id, email, name, areas, status, in_roster, updated_at)"
    if store.engine.dialect.name == "postgresql":
        query = (
            f"{insert} SELECT :list, 'reader' || lpad(i::text, 7, '0') || '@example.org',"
            " 'Reader ' || i, '[]', 'active', true, :now FROM generate_series(1, :count) AS i"
        )
    else:
        query = (
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count) "
            f"{insert} SELECT :list, printf('reader%07d@example.org', i), printf('Reader %d', i),"
            " '[]', 'active', 1, :now FROM n"
        )
    with store.begin() as conn:
        conn.execute(
            text(query), {"count": count, "list": list_id, "now": NOW.replace(tzinfo=None)}
        )
    issue = store.issues.create(list_id, 1, Window(NOW, NOW), [], EMAIL, NOW)
    assert issue is not None
    return list_id, issue.id


BODY_OPTIONS = SendGridOptions(host="http://127.0.0.1")
"""What request bodies are built with (the host is not used): the default batch size, no asm."""


def requests_for(count: int) -> int:
    """How many Mail Send requests ``count`` recipients take."""
    return -(-count // BODY_OPTIONS.batch_size)


def bodies() -> list[dict[str, Any]]:
    """Four Mail Send bodies of 1000 recipients each, built as a send builds them."""
    from digest.models import Envelope

    envelope = Envelope("bench", 1, "2026-11-27-1", EMAIL, "digest@example.org", "Digest")
    out = []
    for k in range(4):
        people = [
            Recipient(
                i,
                f"floor{k}-{i}@example.org",
                f"Reader {i}",
                f"https://digest.example.org/unsubscribe/{'t' * 60}{i}",
                f"https://digest.example.org/preferences/{'t' * 60}{i}",
            )
            for i in range(1000)
        ]
        out.append(request_body(envelope, people, BODY_OPTIONS)[0])
    return out


def client_only(url: str, count: int, workers: int) -> float:
    """Seconds for the official client alone to post the requests of ``count`` recipients,
    prebuilt.

    Not a target: it shows how much of the ratio is the ``sendgrid`` library's own work (it
    serializes each body with ``json.dumps`` and formats it into a debug string).
    """
    prebuilt = bodies()
    local = threading.local()

    def post(n: int) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = SendGridAPIClient(api_key=KEY, host=url)
        assert client.client.mail.send.post(request_body=prebuilt[n % 4]).status_code == 202

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(post, range(requests_for(count))))
    return time.perf_counter() - started


def floor(url: str, count: int, workers: int) -> float:
    """Seconds to post the requests of ``count`` recipients, pre-serialized, nothing else."""
    payloads = [json.dumps(body).encode() for body in bodies()]
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}

    def post(n: int) -> None:
        req = urllib.request.Request(
            f"{url}/v3/mail/send", data=payloads[n % 4], headers=headers, method="POST"
        )
        with urllib.request.urlopen(req, timeout=60) as response:
            assert response.status == 202

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(post, range(requests_for(count))))
    return time.perf_counter() - started


@contextmanager
def fake() -> Iterator[str]:
    """A fresh fake SendGrid: each measurement starts with one that has recorded nothing."""
    proc, url = start_fake()
    try:
        yield url
    finally:
        stats = json.loads(urllib.request.urlopen(f"{url}/stats", timeout=10).read())
        proc.terminate()
        proc.wait()
        FAKE_SAW.append((stats["requests"], stats["recipients"]))


FAKE_SAW: list[tuple[int, int]] = []


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def postgres_answers(server: str) -> str | None:
    """None when the PostgreSQL server answers, else why not."""
    try:
        engine = create_engine(server, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:
        return str(exc).splitlines()[0]
    return None


@contextmanager
def database(kind: str, server: str) -> Iterator[str]:
    """A fresh store's URL: an SQLite file, or a PostgreSQL database dropped afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.db"
        return
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"digest_bench_{time.time_ns()}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def prepared(
    count: int, url: str, workers: int, store_kind: str = "sqlite", server: str = POSTGRES
) -> Iterator[Callable[[], float]]:
    """A seeded store of ``count`` subscribers, and a function timing its whole send to ``url``:
    plan the ledger, then deliver."""
    settings = load_settings(ROOT / "config.toml")
    with database(store_kind, server) as db_url:
        store = Store(db_url)
        list_id, issue_id = seed(store, count)
        issue = store.issues.by_number(list_id, 1)
        assert issue is not None
        options = SendGridOptions(host=url, workers=workers, timeout=60.0)
        sender = Sender(
            settings, store, SendGridBackend(options, KEY), Signer(b"bench-signing-key-0123456789")
        )

        def send() -> float:
            started = time.perf_counter()
            store.issues.plan_active(issue_id, list_id, NOW)
            counts = sender.deliver(issue, "bench")
            assert counts == {"accepted": count}, counts
            return time.perf_counter() - started

        try:
            yield send
        finally:
            store.close()


def run(count: int, workers: int, store_kind: str, server: str) -> dict[str, float]:
    with fake() as url, prepared(count, url, workers, store_kind, server) as send:
        cpu = cpu_seconds()
        wall = send()
        cpu = cpu_seconds() - cpu
    rss = peak_rss_mb()
    with fake() as url:
        base = floor(url, count, workers)
    with fake() as url:
        client = client_only(url, count, workers)
    return {
        "wall": wall,
        "cpu": cpu,
        "requests": requests_for(count),
        "rss": rss,
        "floor": base,
        "client": client,
    }


def split(count: int, parts: int, workers: int) -> float:
    """Seconds for ``parts`` processes, each sending to its own share of ``count`` with its own
    database, against one fake: an upper bound for a sender spread over processes."""
    with fake() as url:
        command = [sys.executable, __file__, "--child", url, str(count // parts)]
        procs = [
            subprocess.Popen(
                [*command, "--workers", str(workers)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(parts)
        ]
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        started = time.perf_counter()
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "done"
        wall = time.perf_counter() - started
        for proc in procs:
            proc.wait()
    return wall


def child(url: str, count: int, workers: int) -> None:
    """One process of ``split``: seed, say ready, send on a line from stdin, say done."""
    with prepared(count, url, workers) as send:
        print("ready", flush=True)
        sys.stdin.readline()
        send()
        print("done", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--split",
        type=int,
        default=0,
        help="also time the largest size split over this many processes (an upper bound)",
    )
    parser.add_argument("--stores", default="sqlite", help="sqlite,postgresql: which stores")
    parser.add_argument("--postgres", default=POSTGRES, help="PostgreSQL server for --stores")
    parser.add_argument("--child", nargs=2, metavar=("URL", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.workers)
        return
    print(f"a fresh fake SendGrid (validation off) for each measurement, {args.workers} workers")
    print(
        f"{'store':>10} {'recipients':>11} {'wall s':>8} {'cpu s':>7} {'req/s':>7} {'rcpt/s':>9}"
        f" {'peak RSS MB':>11} {'floor s':>8} {'x floor':>7} {'client alone':>13}"
    )
    sizes = [int(s) for s in args.sizes.split(",")]
    kinds = args.stores.split(",")
    if "postgresql" in kinds and (why := postgres_answers(args.postgres)):
        print(f"skipped postgresql: {why}")
        kinds.remove("postgresql")
    for size in sizes:
        for kind in kinds:
            r = run(size, args.workers, kind, args.postgres)
            print(
                f"{kind:>10} {size:>11,} {r['wall']:>8.1f} {r['cpu']:>7.1f}"
                f" {r['requests'] / r['wall']:>7.1f} {size / r['wall']:>9,.0f} {r['rss']:>11.0f}"
                f" {r['floor']:>8.1f} {r['wall'] / r['floor']:>7.2f}"
                f" {r['client'] / r['floor']:>12.2f}x",
                flush=True,
            )
    if args.split > 1:
        size = max(sizes)
        wall = split(size, args.split, args.workers)
        with fake() as url:
            base = floor(url, size, args.workers)
        print(
            f"{size:,} split over {args.split} processes, each its own database (an upper bound):"
            f" {wall:.1f} s, floor {base:.1f} s, {wall / base:.2f}x floor"
        )
    requests, recipients = map(sum, zip(*FAKE_SAW, strict=True))
    print(f"the fakes saw {requests:,} requests, {recipients:,} recipients")


if __name__ == "__main__":
    main()
