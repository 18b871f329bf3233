"""The workers benchmark's figures, the services' own limits, and the projection on paper.

``bench/workers.py`` measures; this prints. The projection takes the measured per-chunk
costs and the measured limits of the services and, for 4, 16 and 64 workers each with a core
of its own, gives the chunks per second the cluster would sustain, what PostgreSQL would
carry, and the first cap reached:

- the workers: ``W / cycle``, a worker's cycle being its CPU, the HTTP time at the fake and
  the database time per chunk (no waiting on another process's core);
- the one ``digest send`` that publishes the chunks and watches the ledger: ``1 / its CPU``;
- PostgreSQL: its cores (``--pg-cores``) over its active time per chunk
  (``pg_stat_database.active_time``: statements running, CPU and waits alike, so an upper
  bound of its CPU; concurrent connections waiting on each other's locks count twice);
- PostgreSQL's commits: the rate measured here over 8 connections, over transactions/chunk;
- RabbitMQ: the publish-with-confirm rate one publisher gets, measured here (the dispatcher
  publishes one chunk at a time and waits for the confirm);
- SendGrid: one request per chunk. SendGrid publishes no fixed number for Mail Send: its
  rate-limit page says each endpoint has "a specific number of allowed requests per refresh
  period", announced in ``X-RateLimit-*`` headers and enforced with 429; the widely quoted
  figure for Mail Send is 10,000 requests/s (``--sendgrid-rps``), and the plan's monthly
  volume caps the rest. At 1,000 recipients a request, even the 600 requests/min other v3
  endpoints get would be 10,000 recipients/s.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import create_engine, text

from scripts.cluster import postgres_database

PROJECTED = (4, 16, 64)


@dataclass
class Figures:
    """One mode's measurements."""

    mode: str
    n: int
    wall: float
    cpu: float
    """CPU seconds of every digest process: the send, the workers and their pools."""
    fake_cpu: float
    rss: dict[str, float]
    chunks: int
    sending: float
    """Seconds from the first request the fake saw to its last answer."""
    per_chunk: dict[str, float] = field(default_factory=dict)
    plan: float | None = None
    """Seconds to plan the ledger of all ``n`` rows (in-process modes)."""


@dataclass(frozen=True)
class Paper:
    """The measured per-chunk costs a projection is made of."""

    cycle: float
    dispatch: float
    db: float
    xacts: float
    recipients: float
    """Recipients per chunk."""


def commit_rate(server: str, connections: int, seconds: float = 2.0) -> float:
    """Commits per second on a fresh database: one-row UPDATEs, each its own transaction."""
    with postgres_database(server) as url:
        engine = create_engine(url, pool_size=connections)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (id int PRIMARY KEY, n int)"))
            conn.execute(text("INSERT INTO t SELECT g, 0 FROM generate_series(1, 64) g"))
        counts = [0] * connections
        until = time.monotonic() + seconds

        def hammer(i: int) -> None:
            with engine.connect() as conn:
                while time.monotonic() < until:
                    conn.execute(text("UPDATE t SET n = n + 1 WHERE id = :i"), {"i": i + 1})
                    conn.commit()
                    counts[i] += 1

        threads = [threading.Thread(target=hammer, args=(i,)) for i in range(connections)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        engine.dispose()
        return sum(counts) / seconds


def publish_rate(broker: str, messages: int = 1000) -> float:
    """Persistent messages per second one publisher gets confirmed (the dispatcher's way)."""
    from kombu import Connection, Exchange, Queue

    queue = Queue(f"bench-rate-{secrets.token_hex(3)}", Exchange(""), durable=True)
    with Connection(broker, transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer()
        started = time.perf_counter()
        for i in range(messages):
            producer.publish(
                {"i": i}, routing_key=queue.name, declare=[queue], delivery_mode=2,
                serializer="json",
            )  # fmt: skip
        took = time.perf_counter() - started
        queue(conn.channel()).delete()
    return messages / took


def caps(paper: Paper, limits: dict[str, float]) -> dict[str, float]:
    """Chunks per second each shared part could take at most, whatever the workers."""
    return {
        "the one dispatcher (digest send's CPU)": 1 / paper.dispatch,
        f"PostgreSQL's active time on {limits['pg_cores']:.0f} cores": limits["pg_cores"]
        / paper.db,
        "PostgreSQL's commit rate": limits["commits"] / paper.xacts,
        "RabbitMQ publish+confirm (one dispatcher)": limits["publish"],
        "SendGrid's request rate": limits["sendgrid"],
    }


def projection(paper: Paper, limits: dict[str, float], workers: int) -> tuple[float, str]:
    """Chunks per second with ``workers`` workers, and what caps it."""
    every = {f"the {workers} workers": workers / paper.cycle} | caps(paper, limits)
    what = min(every, key=lambda k: every[k])
    return every[what], what


def report(results: list[Figures], limits: dict[str, float]) -> None:
    """Print every mode, the per-chunk costs, the targets and the projection."""
    base, inproc_pg, one, two = results
    n, cores = base.n, os.cpu_count() or 1
    print(
        f"{n:,} recipients to the fake SendGrid ({cores} cores), whole digest send (roster "
        "sync, build, plan, send; 'sending': first request to last answer):"
    )
    for r in results:
        rss = ", ".join(f"{k} {v:.0f}" for k, v in r.rss.items())
        print(
            f"  {r.mode:<22} wall {r.wall:7.1f}s ({r.wall / base.wall:4.2f}x, sending "
            f"{r.sending:5.1f}s)  "
            f"cpu {r.cpu:7.1f}s ({r.cpu / base.cpu:4.2f}x, {r.cpu / n * 1e6:3.0f} us/recipient)"
            f"  fake cpu {r.fake_cpu:6.1f}s ({r.fake_cpu / max(r.sending, 1e-9):.2f} cores "
            f"while sending)  peak RSS MB: {rss}"
        )
    print("  per chunk while sending, ms (db: PostgreSQL active time, all connections):")
    for r in results:
        c = r.per_chunk
        if not c:
            print(f"  {r.mode:<22} (too few chunks to tell)")
            continue
        db = f"  db {c['db'] * 1e3:6.1f}  transactions {c['xacts']:5.1f}" if "db" in c else ""
        plan = f"  ledger planning {r.plan:.2f}s ({r.plan / n * 1e6:.1f} us/row)" if r.plan else ""
        print(
            f"  {r.mode:<22} wall {c['wall'] * 1e3:6.1f}  sender cpu {c['send_cpu'] * 1e3:6.1f}"
            f"  workers cpu {c['worker_cpu'] * 1e3:6.1f}  fake cpu {c['fake_cpu'] * 1e3:5.1f}"
            f"  http at fake {c['http'] * 1e3:5.1f}{db}{plan}"
        )
    print("  targets:")
    for r in (one, two):
        print(
            f"    cpu per recipient, {r.mode} / in-process SQLite {r.cpu / base.cpu:.2f}x, "
            f"/ in-process PostgreSQL {r.cpu / inproc_pg.cpu:.2f}x (target <= 1.3x)"
        )
    cpu_in = min(r.per_chunk.get("send_cpu", 1e9) for r in (base, inproc_pg))
    for r in (one, two):
        if r.per_chunk:
            c = r.per_chunk["send_cpu"] + r.per_chunk["worker_cpu"]
            print(
                f"    while sending, cpu per chunk, {r.mode} (dispatcher + workers) / in-process "
                f"(the lower of the two) {c / cpu_in:.2f}x"
            )
    print(
        f"    throughput 2 workers / 1 worker: whole send {one.wall / two.wall:.2f}x, sending "
        f"phase {one.sending / max(two.sending, 1e-9):.2f}x (target >= 1.6x); while sending "
        f"with 2 workers the fake used {two.fake_cpu / max(two.sending, 1e-9):.2f} of the "
        f"{cores} cores"
    )
    celery = [c for c in (one.per_chunk, two.per_chunk) if "db" in c]
    if not celery:
        print("  on paper: too few chunks measured; run with more --recipients")
        return
    paper = Paper(
        cycle=min(c["worker_cpu"] + c["http"] + c["db"] for c in celery),
        dispatch=max(c["send_cpu"] for c in celery),
        db=max(c["db"] for c in celery),
        xacts=max(c["xacts"] for c in celery),
        recipients=n / max(1, one.chunks),
    )
    print(
        f"  on paper (each worker a core of its own), from: worker cycle "
        f"{paper.cycle * 1e3:.1f} ms/chunk (its cpu + http at the fake + db); "
        f"dispatcher {paper.dispatch * 1e3:.1f} ms cpu/chunk; PostgreSQL "
        f"{paper.db * 1e3:.1f} ms active and {paper.xacts:.1f} transactions/chunk, "
        f"{limits['commits']:.0f} commits/s over 8 connections ({limits['commits1']:.0f}/s on "
        f"one), {limits['pg_cores']:.0f} cores; RabbitMQ {limits['publish']:.0f} confirmed "
        f"publishes/s; SendGrid {limits['sendgrid']:.0f} requests/s:"
    )
    shared = caps(paper, limits)
    print(
        "    caps, chunks/s: "
        + "; ".join(f"{k} {v:,.0f}" for k, v in sorted(shared.items(), key=lambda kv: kv[1]))
    )
    for w in PROJECTED:
        rate, what = projection(paper, limits, w)
        alone = w / paper.cycle
        print(
            f"    {w:3d} workers: {rate:7.1f} chunks/s = {rate * paper.recipients:9,.0f} "
            f"recipients/s (the workers alone {alone:,.0f} chunks/s); PostgreSQL "
            f"{rate * paper.xacts:6,.0f} transactions/s, {rate * paper.db:5.2f} cores active; "
            f"first bottleneck: {what}"
        )
