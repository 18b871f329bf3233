"""Send phase: freeze the issue, plan the ledger, deliver exactly once per subscriber."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from .config import Settings
from .delivery.base import DeliveryBackend, PerMessageBackend, SendAborted
from .delivery.pacing import RateLimiter, backoff, frozen_heap
from .delivery.reasons import recipient_problem
from .errors import DeliveryError
from .issues import store_issue
from .models import (
    TEST_CHUNK,
    BuiltIssue,
    DeliveryResult,
    Envelope,
    IssueRow,
    Recipient,
    RenderedEmail,
    Subscriber,
)
from .reports import Progress, ProgressFn, SendReport
from .store import Store
from .store.accounts import outcome_of
from .store.issues import CLAIMED, PLANNED, SUBMITTED, UNKNOWN, WAITING, LedgerRow
from .store.ledger import IdRange, Outcome
from .store.outage import DatabaseLost, in_doubt, retried
from .store.owner import owner_id
from .store.zones import Placing
from .tokens import Signer

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


class Sender:
    """Delivers frozen issues through one backend, recording every step in the ledger."""

    chunk_lease: timedelta | None = None
    """On workers, a chunk's lease from its claim; in-process, the period's claim is its lease."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        backend: DeliveryBackend,
        signer: Signer,
        clock: Clock = lambda: datetime.now(UTC),
        progress: ProgressFn | None = None,
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

    def freeze(self, built: BuiltIssue, placing: Placing | None = None) -> IssueRow:
        """Store the built issue and plan a ledger row per active subscriber (idempotent);
        with ``placing``, one wave's run (``plan_waves``), sending again after earlier waves."""
        now = self.clock()
        issue = built.stored or store_issue(self.store, built, now)
        if issue is None:  # another process froze this period first
            issue = self.store.issues.for_period(built.list_id, built.window)
            assert issue is not None
        if issue.status == "approved":
            issue = self.store.issues.start_sending(issue)
        if issue.status == "sent" and placing is not None:
            self.store.issues.set_status(issue.id, "sending")
            issue = replace(issue, status="sending")
        if issue.status == "sending":
            segment_of = self._segment_of(issue)
            if placing is not None:
                subs = self.store.subscribers
                self.store.issues.plan_waves(issue, placing, now, segment_of, subs.active)
            elif segment_of is None:
                self.store.issues.plan_active(issue.id, built.list_id, now)
            else:
                active = self.store.subscribers.active(built.list_id)
                self.store.issues.plan(issue.id, active, now, segment_of)
            if placing is None and issue.waves:  # digest send: every wave's readers, now
                self.store.issues.release(issue.id, issue.waves, now)
        return issue

    def _segment_of(self, issue: IssueRow) -> Callable[[Subscriber], str] | None:
        """The segment a subscriber's row asks for; None: the issue has one rendering."""
        keys = set(self.store.issues.segments_of(issue.id))
        if not keys or self.segment_key is None:
            return None
        key_of = self.segment_key

        def segment_of(sub: Subscriber) -> str:
            key = key_of(sub.areas)
            return key if key in keys else ""  # a new preference gets the whole issue

        return segment_of

    def deliver(
        self, issue: IssueRow, list_name: str, waves: Collection[datetime] | None = None
    ) -> dict[str, int]:
        """Send to every planned recipient; resume-safe; returns the ledger counts (of the rows
        of ``waves`` when given: one run of a list sent in its readers' zones)."""
        with frozen_heap():
            return self._deliver(issue, list_name, waves)

    def _deliver(
        self, issue: IssueRow, list_name: str, waves: Collection[datetime] | None
    ) -> dict[str, int]:
        stale = self.interrupted(issue)
        if stale:
            log.warning("%d recipients were mid-send when the last run stopped", stale)
        renderings = self.renderings(issue)
        counts = self.store.issues.counts(issue.id, waves)
        self._total = counts.get(PLANNED, 0) + (counts.get(WAITING, 0) if waves else 0)
        self._done, self._tally = 0, {}
        self._stop.clear()
        rounds = self.backend.retry_rounds
        # a run of waves claims their rows still waiting; rows to retry come back planned
        for wave, segment in self.store.issues.waiting_segments(issue.id, waves or ()):
            self._pass(issue, self._envelope(issue, list_name, renderings, segment), wave)
        for segment in self.store.issues.segments(issue.id):
            envelope = self._envelope(issue, list_name, renderings, segment)
            for round_ in range(rounds + 1):
                if round_:
                    self.sleep(backoff(round_ - 1, self.backend.retry_wait, 60))
                if not self._pass(issue, envelope):
                    break
        counts = self.store.issues.counts(issue.id, waves)
        if outcome_of(counts) == "sent" and self._waves_done(issue, list_name):
            self.store.issues.finish(issue.id, "sent", self.clock())
        return counts

    def _envelope(
        self, issue: IssueRow, list_name: str, renderings: dict[str, RenderedEmail], segment: str
    ) -> Envelope:
        if segment not in renderings:
            raise DeliveryError(f"no rendering for segment {segment!r}", subject=issue.key)
        return self.envelope(issue, list_name, renderings[segment], segment)

    def _waves_done(self, issue: IssueRow, list_name: str) -> bool:
        """False while a wave of the issue's plan is still to come or a row still waits (a
        missed wave): it stays ``sending``."""
        if not issue.waves:
            return True
        if not set(issue.waves) <= set(self.store.runs.waves(list_name, issue.window)):
            return False
        return outcome_of(self.store.issues.counts(issue.id)) == "sent"

    def lease_until(self) -> datetime | None:
        return None if self.chunk_lease is None else self.clock() + self.chunk_lease

    def interrupted(self, issue: IssueRow) -> int:
        """Settle the rows a dead sender left in hand; returns how many may have gone out."""
        return self.store.issues.interrupted(issue.id, self.backend.idempotent, self.clock())

    def _pass(self, issue: IssueRow, envelope: Envelope, wave: datetime | None = None) -> int:
        """One sweep over the segment's planned rows (with ``wave``: its rows still waiting);
        returns how many came back for retry."""
        workers = max(1, self.backend.workers)
        limiter = RateLimiter(self.backend.max_per_second or 0.0)
        size = self.backend.max_batch
        pending = self.store.issues.pending(issue.id, envelope.segment, PLANNED, size, wave)
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
                inflight.add(pool.submit(self._chunk, issue, envelope, ids, wave))
            done, inflight = wait(inflight)
            retried += sum(f.result() for f in done)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return retried

    def _chunk(
        self, issue: IssueRow, envelope: Envelope, ids: IdRange, wave: datetime | None
    ) -> int:
        if self._stop.is_set() or self.halt.is_set():  # leave these planned for a resume
            return 0
        try:
            tally = self.send_chunk(issue, envelope, ids, secrets.token_hex(8), wave)
        except BaseException:
            self._stop.set()
            raise
        self._report(ids.rows, tally)
        return tally.get("retry", 0)

    def send_chunk(
        self,
        issue: IssueRow,
        envelope: Envelope,
        ids: IdRange,
        chunk: str,
        wave: datetime | None = None,
    ) -> dict[str, int]:
        """Claim the planned rows in ``ids`` (or ``wave``'s still waiting) as ``chunk``,
        deliver them, record each outcome.

        Rows are ``submitted`` (in one transaction with the claim) before the backend is
        called and get their outcome after; a crash between leaves them ``submitted`` for a
        resume to decide. Returns the tally of outcomes (``retry``: planned again).
        """
        # A backend that sends one message at a time records each outcome as it comes.
        each = self.backend.deliver_each if isinstance(self.backend, PerMessageBackend) else None
        # tried again on a lost connection: a second claim takes only rows still planned
        rows, suppressed = retried(
            lambda: self.store.issues.claim(
                issue.id, envelope.segment, ids.first, ids.last, chunk, self.clock(),
                CLAIMED if each else SUBMITTED, owner=owner_id(), lease_until=self.lease_until(),
                wave=wave,
            ),
            f"claiming chunk {chunk}",
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
            except SendAborted as exc:  # refused before anything went out: rows without a result
                missed = results + exc.results
                self._record(issue, (chunk, envelope.segment), part, missed, missing="retry")
                raise
            # any other exception: rows stay submitted, and a resume decides what they are
            try:
                self._record(issue, (chunk, envelope.segment), part, results)
            except DatabaseLost as exc:
                raise in_doubt(exc, chunk, len(part)) from None
            for status, n in Counter([r.status for r in results]).items():
                tally[status] = tally.get(status, 0) + n
        return tally

    def _step(self, issue: IssueRow, chunk: str) -> Callable[[Outcome | None, int | None], None]:
        """Records one message's outcome and submits the next, for a per-message backend."""

        def step(done: Outcome | None, upcoming: int | None) -> None:
            retried(
                lambda: self.store.issues.step(issue.id, chunk, done, upcoming, self.clock()),
                f"recording a message of chunk {chunk}",
            )

        return step

    def _record(
        self,
        issue: IssueRow,
        chunk: tuple[str, str],
        rows: list[LedgerRow],
        results: list[DeliveryResult],
        missing: str = UNKNOWN,
    ) -> None:
        """Write the outcomes of ``rows`` of ``chunk`` (its name and segment)."""
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
        # the same outcomes written twice are written once: rows no longer in hand are left
        retried(
            lambda: self.store.issues.record(issue.id, chunk[0], outcomes, self.clock(), chunk[1]),
            f"recording chunk {chunk[0]}",
        )

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
        for start in range(0, len(rows), self.backend.max_batch):
            part = rows[start : start + self.backend.max_batch]
            recipients = self.recipients(part, list_name, issue.id)
            results.extend(self.backend.deliver(envelope, recipients))
        return results

    def test_report(self, issue: IssueRow, list_name: str, addresses: Sequence[str]) -> SendReport:
        """``test_send``, reported: counts, failure reasons and where the messages went."""
        results = self.test_send(issue, list_name, list(addresses))
        test = replace(self.envelope(issue, list_name), chunk=TEST_CHUNK)
        return SendReport(
            list_name,
            "test",
            issue_number=issue.number,
            counts=dict(Counter(r.status for r in results)),
            recipients=len(results),
            destination=self.backend.destination(test),
            failures=tuple(Counter(r.error or "" for r in results if r.status == "failed").items()),
        )


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
