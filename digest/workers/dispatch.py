"""``digest send`` with workers: plan as always, then one Celery task per chunk, and wait.

The sender's own pass over the planned rows is replaced by publishing a task for each range
of ``max_batch`` planned rows (the chunk the in-process sender would send) and watching the
ledger until each range is over. Waiting on the ledger rather than on Celery results keeps
the send correct across broker restarts and dropped connections: the rows are the truth.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import deque
from contextlib import suppress
from datetime import datetime
from typing import Any

from celery import Celery
from kombu.exceptions import KombuError
from sqlalchemy.exc import OperationalError

from ..errors import DeliveryError
from ..models import Envelope
from ..periods import parse_duration
from ..send import Sender
from ..store.chunks import ChunkLedger
from ..store.issues import PLANNED, IssueRow
from ..store.ledger import IdRange
from ..store.outage import DatabaseLost
from .app import TASK, make_app, shown

log = logging.getLogger(__name__)
POLL = 0.25
"""Seconds between looks at the ledger while chunks are out."""
WINDOW = 64
"""Outstanding chunks looked at per poll at most, oldest first."""
MISSES = 8
"""A poll stops after this many chunks in a row that are not over yet."""


class WorkerSender(Sender):
    """A ``Sender`` whose chunks go to Celery workers; everything else is the sender's own."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        workers = self.settings.workers
        self.app: Celery = make_app(self.settings)
        self.queue = workers.queue
        self.lease = parse_duration(workers.chunk_lease)
        self.stall = parse_duration(workers.stall).total_seconds()
        self.chunks = ChunkLedger(self.store.engine)

    def interrupted(self, issue: IssueRow) -> int:
        """Settle only chunks whose lease ran out: a worker may still hold the others."""
        now = self.clock()
        return self.chunks.stale(issue.id, now - self.lease, self.backend.idempotent, now)

    def _pass(self, issue: IssueRow, envelope: Envelope, wave: datetime | None = None) -> int:
        """Publish a task per planned chunk (or per chunk of ``wave``'s waiting rows), then
        wait for the ledger to show each over."""
        out: deque[tuple[IdRange, str]] = deque()
        size = self.backend.max_batch
        try:
            with self.app.producer_or_acquire() as producer:
                for ids in self.store.issues.pending(
                    issue.id, envelope.segment, PLANNED, size, wave
                ):
                    if self.halt.is_set():
                        break
                    prefix = secrets.token_hex(6)
                    args = [envelope.list_name, issue.number, envelope.segment, *ids, prefix]
                    args += [wave.isoformat()] if wave is not None else []
                    # the ledger is the result: no reply queue (the rpc:// backend is for parses)
                    self.app.send_task(
                        TASK, args=args, queue=self.queue, producer=producer, ignore_result=True
                    )
                    out.append((ids, prefix))
        except (KombuError, OSError) as exc:
            raise DeliveryError(
                f"cannot hand chunks to the workers: {exc}",
                subject=shown(self.app.conf.broker_url),
                hint="is RabbitMQ running? chunks not handed over stay planned: "
                "resume with digest send --resume",
            ) from None
        log.info("%d chunks handed to the workers on queue %s", len(out), self.queue)
        return self._wait(issue, envelope.segment, out, wave)

    def _wait(
        self,
        issue: IssueRow,
        segment: str,
        out: deque[tuple[IdRange, str]],
        wave: datetime | None,
    ) -> int:
        retried = 0
        moved = swept = time.monotonic()
        while out and not self.halt.is_set():
            if time.monotonic() - swept > self.lease.total_seconds():
                # chunks whose task is gone with its message (a purged queue): settle them
                swept = time.monotonic()
                with suppress(OperationalError, DatabaseLost):  # the database is away: next sweep
                    self.interrupted(issue)
            misses = 0
            for job in list(out)[:WINDOW]:
                ids, prefix = job
                try:
                    ranges = [(ids.first, ids.last)]
                    state = self.chunks.state(issue.id, segment, ranges, prefix, wave)
                except (OperationalError, DatabaseLost) as exc:  # the database is away: up to stall
                    log.warning("cannot read the ledger (%s); trying again", exc)
                    break
                if not state.done:
                    misses += 1
                    if misses >= MISSES:  # the rest are most likely not started yet
                        break
                    continue
                out.remove(job)
                retried += state.tally.get("retry", 0)
                self._report(ids.rows, state.tally)
                moved = time.monotonic()
            if not out:
                break
            if time.monotonic() - moved > self.stall:
                raise DeliveryError(
                    f"no chunk finished for {self.settings.workers.stall}; {len(out)} of them "
                    "are still out",
                    subject=f"queue {self.queue}",
                    hint="start workers with digest worker (same config), then "
                    "digest send --resume; chunks already queued are sent when they start",
                )
            time.sleep(POLL)
        return retried
