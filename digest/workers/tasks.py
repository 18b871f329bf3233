"""The chunk task: what a worker does with one ledger chunk, through the ledger's own code.

Each process keeps one ``ChunkRunner`` (store, backend, signer) made on its first task, after
the pool has forked. A delivery of the task first looks for rows an earlier delivery of the
same task left in hand: while their lease runs it waits, since that delivery may still be
sending (a broker connection that dropped while the worker went on); once the lease is out
they are decided as a resume decides them, ``submitted`` ones ``unknown``, never resent on
their own. Then it claims whatever of the range is still planned and sends it with
``Sender.send_chunk``, exactly as the in-process path does.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from celery import Celery, Task
from sqlalchemy.exc import OperationalError

from ..config import Settings
from ..config.load import load_settings
from ..errors import NotFoundError, StoreError
from ..models import RenderedEmail
from ..ops.metrics import record_chunk, record_error
from ..periods import parse_duration
from ..pipeline import Pipeline
from ..send import Sender
from ..store.chunks import ChunkLedger
from ..store.leases import renewed
from ..store.ledger import IdRange
from ..store.owner import owner_id
from .app import TASK, make_app
from .faults import Faults, FaultyBackend
from .parsing import register as register_parse

log = logging.getLogger(__name__)
LEASE_POLL = 0.2
"""Seconds between looks at rows an earlier delivery holds, at most (a tenth of the lease)."""


@dataclass(frozen=True, slots=True)
class ChunkJob:
    """One chunk as the task's message carries it."""

    list_name: str
    issue_number: int
    segment: str
    first: int
    last: int
    rows: int
    prefix: str
    """Every delivery of the task sends under a chunk id starting with this."""
    wave: str = ""
    """A chunk of this wave's rows still waiting (ISO 8601; empty: of planned rows)."""


class ChunkRunner:
    """One worker process's store, backend and sender."""

    def __init__(self, settings: Settings):
        self.pipeline = Pipeline(settings)
        self.faults = Faults.from_env()
        backend = self.pipeline.backend()
        self.backend = FaultyBackend(backend, self.faults) if self.faults.faults else backend
        self.sender = Sender(
            settings,
            self.pipeline.store,
            self.backend,
            self.pipeline.signer(self.backend),
            self.pipeline.clock,
            segment_key=self.pipeline.builder.segment_key,
        )
        self.leases = ChunkLedger(self.pipeline.store.engine)
        self.lease = parse_duration(settings.workers.chunk_lease)
        self.sender.chunk_lease = self.lease  # each chunk claimed under a lease, renewed below
        self._renderings: dict[int, dict[str, RenderedEmail]] = {}

    def run(self, job: ChunkJob) -> dict[str, int]:
        """Send the chunk's planned rows once its earlier deliveries are settled."""
        store = self.pipeline.store
        list_id = store.subscribers.list_id(job.list_name)
        issue = store.issues.by_number(list_id, job.issue_number)
        if issue.status != "sending":
            return {}
        self.faults.first = job.first
        wait = min(LEASE_POLL, self.lease.total_seconds() / 10)
        while True:
            now = self.pipeline.clock()
            held = self.leases.release(
                issue.id, job.segment, job.first, job.last, job.prefix,
                now - self.lease, self.backend.idempotent, now,
            )  # fmt: skip
            if not held:
                break
            time.sleep(wait)
        renderings = self._renderings.get(issue.id)
        if renderings is None:
            renderings = self._renderings[issue.id] = self.sender.renderings(issue)
        if job.segment not in renderings:
            raise NotFoundError(f"no rendering for segment {job.segment!r}", subject=issue.key)
        envelope = self.sender.envelope(issue, job.list_name, renderings[job.segment], job.segment)
        ids = IdRange(job.first, job.last, job.rows)
        wave = datetime.fromisoformat(job.wave) if job.wave else None
        chunk = job.prefix + secrets.token_hex(3)
        with self.renewing(chunk):
            tally = self.sender.send_chunk(issue, envelope, ids, chunk, wave)
        self.faults.at("recorded")
        return tally

    @contextmanager
    def renewing(self, chunk: str) -> Iterator[None]:
        """Renew ``chunk``'s lease every third of it for the block (a slow SendGrid, retries).

        A renewal before the claim, or after another delivery settled the rows, finds no
        lease of ours and changes nothing; a lost database is logged and tried next time.
        """
        owner, store, every = owner_id(), self.pipeline.store, self.lease.total_seconds() / 3

        def renew() -> bool:
            try:
                store.issues.renew_chunk(chunk, owner, self.pipeline.clock() + self.lease)
            except StoreError as exc:
                log.warning("could not renew the lease of chunk %s: %s", chunk, exc)
            return True

        with renewed(every, renew, f"lease-{chunk}"):
            yield


_runner: tuple[int, ChunkRunner] | None = None


def runner(app: Celery) -> ChunkRunner:
    """This process's runner, made on first use (after the pool forked)."""
    global _runner
    if _runner is None or _runner[0] != os.getpid():
        _runner = (os.getpid(), ChunkRunner(load_settings(app.conf.digest_config)))
    return _runner[1]


def send_chunk(task: Task[Any, Any], *args: Any) -> dict[str, int]:
    """The task: one chunk (see ``ChunkJob`` for the arguments), counted for the metrics."""
    job = ChunkJob(*args)
    started = time.monotonic()
    try:
        tally = runner(task.app).run(job)
    except Exception:
        record_error(job.list_name)
        raise
    if tally:
        record_chunk(job.list_name, tally, time.monotonic() - started)
    return tally


def worker_app(settings: Settings, queue: str | None = None) -> Celery:
    """The app ``digest worker`` runs: the configured broker and queue, and the chunk task."""
    app = make_app(settings, queue)
    # the database went away for a moment (a restart, a locked SQLite file): the task runs
    # again later; its lease check makes that safe whatever point it had reached
    app.task(
        bind=True, name=TASK, autoretry_for=(OperationalError, StoreError), max_retries=None,
        retry_backoff=1, retry_backoff_max=30,
    )(send_chunk)  # fmt: skip
    register_parse(app)
    return app
