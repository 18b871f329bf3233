"""Send phase: freeze the issue, plan the ledger, deliver exactly once per subscriber."""

from __future__ import annotations

import gc
import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TypeVar

from .build import BuiltIssue, store_issue
from .config import Settings
from .delivery.base import DeliveryBackend, SendAborted
from .delivery.pacing import RateLimiter, backoff
from .delivery.reasons import recipient_problem
from .errors import DeliveryError
from .membership import sync_list
from .models import TEST_CHUNK, DeliveryResult, Envelope, Recipient, RenderedEmail, Subscriber
from .owner import owner_id
from .roster import RowProblem
from .store import Store
from .store.decisions import UnknownChunk, UnknownRecipient
from .store.issues import CLAIMED, FAILED, PLANNED, SUBMITTED, UNKNOWN, IssueRow, LedgerRow
from .store.ledger import IdRange, Outcome
from .tokens import Signer

log = logging.getLogger(__name__)
T = TypeVar("T")
Clock = Callable[[], datetime]
SegmentOf = Callable[[Subscriber], str]
"""Which rendering a subscriber gets ("" is the whole issue)."""


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a delivery has got: recipients handled of the total, and the tally so far."""

    total: int
    done: int
    counts: dict[str, int]


ProgressFn = Callable[[Progress], None]


@dataclass(frozen=True, slots=True)
class SendReport:
    """What sending one list's issue did."""

    list_name: str
    outcome: str
    """``sent``, ``already-sent``, ``no-posts``, ``dry-run``, ``incomplete``, ``unknown``, or
    ``test`` (a test send outside the ledger)."""
    issue_number: int | None = None
    issue_key: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    recipients: int = 0
    roster_problems: tuple[RowProblem, ...] = ()
    destination: str | None = None
    failures: tuple[tuple[str, int], ...] = ()
    """Each distinct failure reason and how many recipients it hit."""
    unknown: tuple[UnknownChunk, ...] = ()
    """Chunks that may or may not have gone out, waiting for ``--resolve-unknown``."""
    unknown_recipients: tuple[UnknownRecipient, ...] = ()
    """The same, one entry per recipient."""


def outcome_of(counts: dict[str, int]) -> str:
    """``incomplete`` while rows wait to be sent, ``unknown`` while ops must decide, else sent."""
    if counts.get(PLANNED) or counts.get(CLAIMED) or counts.get(SUBMITTED):
        return "incomplete"
    return "unknown" if counts.get(UNKNOWN) else "sent"


def ledger_report(store: Store, issue: IssueRow, list_name: str) -> SendReport:
    """The ledger's account of an issue: counts, failure reasons, unknown chunks."""
    counts = store.issues.counts(issue.id)
    unknown = tuple(store.issues.unknown_recipients(issue.id)) if counts.get(UNKNOWN) else ()
    return SendReport(
        list_name,
        outcome_of(counts),
        issue_number=issue.number,
        issue_key=issue.key,
        counts=counts,
        recipients=sum(counts.values()),
        failures=tuple(store.issues.reasons(issue.id, FAILED)),
        unknown=tuple(store.issues.unknown(issue.id)) if unknown else (),
        unknown_recipients=unknown,
    )


def sync_roster(
    settings: Settings, store: Store, list_name: str, now: datetime
) -> tuple[int, tuple[RowProblem, ...]]:
    """Bring the list's roster file into the store; return the list id and its problem rows."""
    synced = sync_list(settings, store, list_name, now)
    return synced.list_id, synced.problems


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Keep the garbage collector off the objects that exist before a send, for its length.

    A send allocates a few dicts per recipient; each full collection would walk the whole
    heap (templates, SQLAlchemy, numpy...) again, which doubled the time to build a request.
    Frozen objects are only exempt from collection, not from freeing, and thaw at the end.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class Sender:
    """Delivers frozen issues through one backend, recording every step in the ledger."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        backend: DeliveryBackend,
        signer: Signer,
        clock: Clock = lambda: datetime.now(UTC),
        progress: ProgressFn | None = None,
        segment_of: SegmentOf | None = None,
        sleep: Callable[[float], None] = time.sleep,
        halt: threading.Event | None = None,
        segment_key: Callable[[tuple[str, ...]], str] | None = None,
    ):
        self.settings = settings
        self.store = store
        self.backend = backend
        self.signer = signer
        self.clock = clock
        self.progress = progress
        self.segment_of = segment_of
        self.segment_key = segment_key
        """Maps a subscriber's area preferences to the key of the segment they receive."""
        self.sleep = sleep
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.halt = halt or threading.Event()
        """Set from outside (SIGTERM) to stop after the chunks under way; the rest stays planned."""
        self._tally: dict[str, int] = {}
        self._done = self._total = 0

    def envelope(
        self, issue: IssueRow, list_name: str, email: RenderedEmail | None = None, segment: str = ""
    ) -> Envelope:
        nl = self.settings.newsletter
        return Envelope(
            list_name=list_name,
            issue_id=issue.id,
            issue_key=issue.key,
            email=email or issue.email,
            from_address=nl.from_address,
            from_name=nl.from_name or nl.name,
            reply_to=nl.reply_to,
            unsubscribe_mailto=nl.unsubscribe_mailto,
            categories=(list_name, f"issue-{issue.key}"),
            segment=segment,
        )

    def renderings(self, issue: IssueRow) -> dict[str, RenderedEmail]:
        """Every rendering of the issue by segment: "" is the whole issue."""
        return {"": issue.email, **self.store.issues.segments_of(issue.id)}

    def recipients(
        self, rows: Sequence[LedgerRow], list_name: str, issue_id: int
    ) -> list[Recipient]:
        """The recipients of ``rows``, each with signed unsubscribe and preferences links."""
        tokens = self.signer.tokens(list_name, issue_id, [r.subscriber_id for r in rows])
        base = self.settings.newsletter.base_url.rstrip("/")
        unsubscribe, preferences = f"{base}/unsubscribe/", f"{base}/preferences/"
        return [
            Recipient(r.subscriber_id, r.email, r.name, unsubscribe + t, preferences + t)
            for r, t in zip(rows, tokens, strict=True)
        ]

    def freeze(self, built: BuiltIssue) -> IssueRow:
        """Store the built issue and plan a ledger row per active subscriber (idempotent)."""
        now = self.clock()
        issue = built.stored or store_issue(self.store, built, now)
        if issue is None:  # another process froze this period first
            issue = self.store.issues.for_period(built.list_id, built.window)
            assert issue is not None
        if issue.status == "approved":
            issue = self.store.issues.start_sending(issue)
        if issue.status == "sending":
            keys = set(self.store.issues.segments_of(issue.id))
            segment_of = self.segment_of
            if segment_of is None and keys and self.segment_key is not None:
                key_of = self.segment_key

                def segment_of(sub: Subscriber) -> str:
                    key = key_of(sub.areas)
                    return key if key in keys else ""  # a new preference gets the whole issue

            if segment_of is None:
                self.store.issues.plan_active(issue.id, built.list_id, now)
            else:
                active = self.store.subscribers.active(built.list_id)
                self.store.issues.plan(issue.id, active, now, segment_of)
        return issue

    def deliver(self, issue: IssueRow, list_name: str) -> dict[str, int]:
        """Send to every planned recipient; resume-safe; returns the ledger counts."""
        with frozen_heap():
            return self._deliver(issue, list_name)

    def _deliver(self, issue: IssueRow, list_name: str) -> dict[str, int]:
        now = self.clock()
        stale = self.store.issues.interrupted(issue.id, self.backend.idempotent, now)
        if stale:
            log.warning("%d recipients were mid-send when the last run stopped", stale)
        renderings = self.renderings(issue)
        self._total = self.store.issues.counts(issue.id).get(PLANNED, 0)
        self._done, self._tally = 0, {}
        self._stop.clear()
        rounds = getattr(self.backend, "retry_rounds", 0)
        for segment in self.store.issues.segments(issue.id):
            if segment not in renderings:
                raise DeliveryError(f"no rendering for segment {segment!r}", subject=issue.key)
            envelope = self.envelope(issue, list_name, renderings[segment], segment)
            for round_ in range(rounds + 1):
                if round_:
                    self.sleep(backoff(round_ - 1, getattr(self.backend, "retry_wait", 1.0), 60))
                if not self._pass(issue, envelope):
                    break
        counts = self.store.issues.counts(issue.id)
        if outcome_of(counts) == "sent":
            self.store.issues.finish(issue.id, "sent", self.clock())
        return counts

    def _pass(self, issue: IssueRow, envelope: Envelope) -> int:
        """One sweep over the segment's planned rows; returns how many came back for retry."""
        workers = max(1, int(getattr(self.backend, "workers", 1)))
        limiter = RateLimiter(float(getattr(self.backend, "max_per_second", 0) or 0))
        size = self.backend.max_batch
        pending = self.store.issues.pending(issue.id, envelope.segment, PLANNED, size)
        inflight: set[Future[int]] = set()
        retried = 0
        pool = ThreadPoolExecutor(workers, thread_name_prefix="send")
        try:
            for ids in pending:
                if self.halt.is_set():
                    break
                limiter.acquire(ids.rows)
                if len(inflight) >= workers * 2:
                    done, inflight = wait(inflight, return_when=FIRST_COMPLETED)
                    retried += sum(f.result() for f in done)
                inflight.add(pool.submit(self._chunk, issue, envelope, ids))
            done, inflight = wait(inflight)
            retried += sum(f.result() for f in done)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return retried

    def _chunk(self, issue: IssueRow, envelope: Envelope, ids: IdRange) -> int:
        if self._stop.is_set() or self.halt.is_set():  # leave these planned for a resume
            return 0
        chunk = secrets.token_hex(8)
        # A backend that sends one message at a time records each outcome as it comes.
        each = getattr(self.backend, "deliver_each", None)
        rows, suppressed = self.store.issues.claim(
            issue.id, envelope.segment, ids.first, ids.last, chunk, self.clock(),
            CLAIMED if each else SUBMITTED, owner=owner_id(),
        )  # fmt: skip
        tally = {"suppressed": suppressed} if suppressed else {}
        size = self.backend.max_batch
        for start in range(0, len(rows), size):  # more than ``ids`` only if rows were replanned
            part = rows[start : start + size]
            good, results = _screen(part)
            recipients = self.recipients(good, envelope.list_name, issue.id)
            try:
                if each is None:
                    results += self.backend.deliver(replace(envelope, chunk=chunk), recipients)
                else:
                    results += each(
                        replace(envelope, chunk=chunk), recipients, self._step(issue, chunk)
                    )
            except SendAborted as exc:
                self._stop.set()  # refused before anything went out: rows without a result
                self._record(issue, chunk, part, results + exc.results, missing="retry")
                raise
            except BaseException:
                self._stop.set()  # rows stay submitted: a resume decides what they are
                raise
            self._record(issue, chunk, part, results)
            for status, n in Counter([r.status for r in results]).items():
                tally[status] = tally.get(status, 0) + n
        self._report(ids.rows, tally)
        return tally.get("retry", 0)

    def _step(self, issue: IssueRow, chunk: str) -> Callable[[Outcome | None, int | None], None]:
        """Records one message's outcome and submits the next, for a per-message backend."""

        def step(done: Outcome | None, upcoming: int | None) -> None:
            self.store.issues.step(issue.id, chunk, done, upcoming, self.clock())

        return step

    def _record(
        self,
        issue: IssueRow,
        chunk: str,
        rows: list[LedgerRow],
        results: list[DeliveryResult],
        missing: str = UNKNOWN,
    ) -> None:
        if len(results) == len(rows) and all(
            a.subscriber_id == b.subscriber_id for a, b in zip(results, rows, strict=True)
        ):
            outcomes: Sequence[Outcome] = results  # one result per row, in order: the usual case
        else:
            given = {r.subscriber_id: r for r in results}
            outcomes = [
                given.get(r.subscriber_id)
                or Outcome(r.subscriber_id, missing, None, "the backend gave no result")
                for r in rows
            ]
        self.store.issues.record(issue.id, chunk, outcomes, self.clock())

    def _report(self, handled: int, tally: dict[str, int]) -> None:
        with self._lock:
            self._done += handled
            for key, n in tally.items():
                self._tally[key] = self._tally.get(key, 0) + n
            snapshot = Progress(max(self._total, self._done), self._done, dict(self._tally))
            if self.progress is not None:
                self.progress(snapshot)

    def test_send(
        self, issue: IssueRow, list_name: str, addresses: Sequence[str]
    ) -> list[DeliveryResult]:
        """The issue, subject marked ``[TEST]``, to ``addresses``; outside the ledger."""
        email = replace(issue.email, subject=f"[TEST] {issue.email.subject}")
        envelope = replace(self.envelope(issue, list_name, email), chunk=TEST_CHUNK)
        rows = [LedgerRow(0, a, "", "test", "active", True) for a in addresses]
        results = []
        for part in _split(iter([rows]), self.backend.max_batch):
            recipients = self.recipients(part, list_name, issue.id)
            results.extend(self.backend.deliver(envelope, recipients))
        return results


def _screen(rows: list[LedgerRow]) -> tuple[list[LedgerRow], list[DeliveryResult]]:
    """The rows a message can be made for, and a ``failed`` result for each other one."""
    problems = [recipient_problem(r.email, r.name) for r in rows]
    if not any(problems):
        return rows, []
    good = [r for r, p in zip(rows, problems, strict=True) if p is None]
    bad = [
        DeliveryResult(r.subscriber_id, "failed", error=p)
        for r, p in zip(rows, problems, strict=True)
        if p
    ]
    for r, p in zip(rows, problems, strict=True):
        if p:
            log.warning("subscriber %d: %s", r.subscriber_id, p)
    return good, bad


def _split(batches: Iterator[list[T]], size: int) -> Iterator[list[T]]:
    """Re-cut a stream of lists into lists of at most ``size``."""
    for batch in batches:
        for start in range(0, len(batch), size):
            yield batch[start : start + size]
