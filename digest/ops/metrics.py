"""Prometheus metrics (``prometheus_client``): what workers count, and what serve reads.

Workers count what they do: recipients by outcome, chunks, and each chunk's latency. Celery's
prefork pool runs tasks in child processes, so ``digest worker`` runs ``prometheus_client``'s
multiprocess mode: every process writes its counters to files in a directory of the worker's
own (``PROMETHEUS_MULTIPROC_DIR``) and the worker's endpoint adds them up at scrape time; a
pool process that dies keeps its counts. Counters start at zero when the worker starts.

``digest serve`` counts nothing itself: at scrape time it reads the ledger, the claims and the
run history, so its figures are the store's, survive restarts and agree between hosts. The
queue's depth is read from RabbitMQ at scrape time by both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from ..config import Settings
from ..errors import DigestError
from ..store.standing import StandingReads
from .broker import TIMEOUT, queue_depth

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CHUNK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)

# Registered nowhere by default: a worker's endpoint registers them (one process) or reads
# every process's files (multiprocess mode), serve never exposes them.
RECIPIENTS = Counter(
    "digest_recipients",
    "Recipients of chunks this worker sent, by outcome (accepted, failed, unknown, suppressed, "
    "retry: planned again)",
    ["list", "outcome"],
    registry=None,
)
CHUNKS = Counter(
    "digest_chunks", "Chunks this worker ran, by result (done, error)", ["list", "result"],
    registry=None,
)  # fmt: skip
CHUNK_SECONDS = Histogram(
    "digest_chunk_seconds",
    "Seconds from a chunk task's start to its rows recorded in the ledger",
    ["list"],
    buckets=CHUNK_BUCKETS,
    registry=None,
)


def record_chunk(list_name: str, tally: dict[str, int], seconds: float) -> None:
    """Count one chunk a worker finished: its recipients by outcome and its latency."""
    for outcome, n in tally.items():
        RECIPIENTS.labels(list_name, outcome).inc(n)
    CHUNKS.labels(list_name, "done").inc()
    CHUNK_SECONDS.labels(list_name).observe(seconds)


def record_error(list_name: str) -> None:
    """Count a chunk whose task raised (it is retried or left to a redelivery)."""
    CHUNKS.labels(list_name, "error").inc()


class QueueCollector(Collector):
    """The queue's depth, read from RabbitMQ at each scrape."""

    def __init__(self, url: str, queue: str, timeout: float = TIMEOUT):
        self.url, self.queue, self.timeout = url, queue, timeout

    def collect(self) -> Iterator[Metric]:
        depth = queue_depth(self.url, self.queue, self.timeout)
        yield GaugeMetricFamily(
            "digest_broker_up", "1 when RabbitMQ answered this scrape", value=int(depth.reachable)
        )
        if depth.messages is None or depth.consumers is None:
            return
        for name, value, what in (
            ("digest_queue_messages", depth.messages, "Chunks waiting in the queue (ready)"),
            ("digest_queue_consumers", depth.consumers, "Worker processes consuming the queue"),
        ):
            family = GaugeMetricFamily(name, what, labels=["queue"])
            family.add_metric([self.queue], value)
            yield family


class StoreCollector(Collector):
    """Ledger, claims and run history, read from the store at each scrape (serve)."""

    def __init__(self, reads: StandingReads):
        self.reads = reads

    def collect(self) -> Iterator[Metric]:
        try:
            ledgers = self.reads.ledgers(latest=True)
            outcomes = self.reads.run_outcomes()
            last = self.reads.last_finished("sent")
            claims = self.reads.claims()
        except (SQLAlchemyError, DigestError):
            yield GaugeMetricFamily("digest_store_up", "1 when the store answered", value=0)
            return
        yield GaugeMetricFamily("digest_store_up", "1 when the store answered", value=1)
        recipients = GaugeMetricFamily(
            "digest_ledger_recipients",
            "Ledger rows of each list's latest issue and of every issue still sending, by status",
            labels=["list", "issue", "status"],
        )
        for ledger in ledgers:
            for status, n in sorted(ledger.counts.items()):
                recipients.add_metric([ledger.list_name, str(ledger.number), status], n)
        yield recipients
        runs = CounterMetricFamily(
            "digest_runs", "Finished runs in the run history, by list and outcome",
            labels=["list", "outcome"],
        )  # fmt: skip
        for (list_name, outcome), n in sorted(outcomes.items()):
            runs.add_metric([list_name, outcome], n)
        yield runs
        sent = GaugeMetricFamily(
            "digest_last_sent_timestamp_seconds",
            "When each list's last run that sent its issue finished (Unix time)",
            labels=["list"],
        )
        for list_name, at in sorted(last.items()):
            sent.add_metric([list_name], at.timestamp())
        yield sent
        held = GaugeMetricFamily(
            "digest_claims_held", "Period and wave claims running or interrupted, by list",
            labels=["list", "outcome"],
        )  # fmt: skip
        tally: dict[tuple[str, str], int] = {}
        for claim in claims:
            key = (claim.list_name, claim.outcome)
            tally[key] = tally.get(key, 0) + 1
        for (list_name, outcome), n in sorted(tally.items()):
            held.add_metric([list_name, outcome], n)
        yield held


def broker_collectors(settings: Settings) -> list[Collector]:
    """The queue collector when a broker is configured, else none."""
    url = settings.workers.broker_url()
    return [QueueCollector(url, settings.workers.queue)] if url else []


def serve_registry(reads: StandingReads, settings: Settings) -> CollectorRegistry:
    """What ``/metrics`` of ``digest serve`` shows: the store's figures and the queue."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(reads))
    for collector in broker_collectors(settings):
        registry.register(collector)
    return registry


def worker_registry(settings: Settings) -> CollectorRegistry:
    """What a worker's endpoint shows: every pool process's counts, and the queue."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:  # one process (tests, --pool solo): the counters themselves
        for metric in (RECIPIENTS, CHUNKS, CHUNK_SECONDS):
            registry.register(metric)
    for collector in broker_collectors(settings):
        registry.register(collector)
    return registry


def clear_multiprocess_dir(path: Path) -> None:
    """Remove the counts of an earlier run of this worker (a dir must not outlive its worker)."""
    for old in path.glob("*.db"):
        old.unlink()
