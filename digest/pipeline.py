"""The main job, phase by phase: collect → build (summarize, group, render) → send."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from . import issues
from .archive import Archive
from .build import Builder
from .claims import MANUAL, RETRY, acquire, kept, run_outcome
from .collect import collect
from .config import Settings
from .delivery.base import DeliveryBackend
from .delivery.reasons import transient
from .errors import ClaimHeldError, DigestError, StoreError
from .models import ALL, BuiltIssue, IssueRow, StoredPost, Window
from .periods import parse_duration, period_of
from .reports import CollectReport, ProgressFn, RunReport, SendReport
from .send import Sender
from .store import Store
from .store.accounts import ledger_report, outcome_of
from .store.runs import Run
from .subscribers.membership import sync_list
from .tokens import Signer

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Pipeline:
    """Wires settings, store, builder and backend together for the CLI and the scheduler."""

    def __init__(self, settings: Settings, store: Store | None = None, clock: Clock = utcnow):
        self.settings = settings
        self.store = store or Store(settings.database.url)
        self.clock = clock
        self.builder = Builder(settings)
        self.halt = threading.Event()
        """Set (on SIGTERM) to stop a send after the chunks under way."""

    def collect(self) -> CollectReport:
        return collect(self.settings, self.store, self.clock())

    def build(self, list_name: str, at: datetime | None = None) -> BuiltIssue:
        """The list's issue for the period holding ``at`` (default: now)."""
        return self.builder.build(self.store, list_name, self.clock(), at)

    def coming(self, list_name: str) -> BuiltIssue:
        """The list's issue really coming: this period's, or the next once this one went out."""
        built = self.build(list_name)
        if built.stored is not None and built.stored.status in ("sending", "sent"):
            return self.build(list_name, built.window.end + timedelta(seconds=1))
        return built

    def candidates(self, list_name: str, at: datetime | None = None) -> list[StoredPost]:
        """The posts the list's issue for the period holding ``at`` (default: now) would hold,
        before editors' exclusions."""
        built = self.build(list_name, at)
        if built.stored is not None:
            return self.store.posts.by_ids(self.store.issues.post_ids(built.stored.id))
        lst = self.settings.list(list_name)
        list_id = self.list_id(lst.name)
        previous = self.store.issues.latest(list_id)
        return self.store.posts.for_issue(
            list_id, built.window, previous.created_at if previous else None
        )

    def issue_posts(self, list_name: str, number: int) -> list[StoredPost]:
        """The posts of a list's stored issue ``number``."""
        list_id = self.list_id(list_name)
        issue = self.store.issues.by_number(list_id, number)
        return self.store.posts.by_ids(self.store.issues.post_ids(issue.id))

    def backend(self, name: str | None = None) -> DeliveryBackend:
        return self.settings.delivery.make(self.settings, name)

    def signer(self, backend: DeliveryBackend) -> Signer:
        signer = Signer.from_env(
            self.settings.newsletter.signing_key_env, allow_ephemeral=backend.name == "outbox"
        )
        if signer.ephemeral:
            log.warning(
                "$%s is not set: unsubscribe links use a one-off key and will not verify later",
                self.settings.newsletter.signing_key_env,
            )
        return signer

    def list_id(self, list_name: str) -> int:
        """The store's id of the configured list ``list_name`` (ConfigError for another name)."""
        return self.store.subscribers.list_id(self.settings.list(list_name).name)

    def period(self, list_name: str, at: datetime | None = None) -> Window:
        """The list's period holding ``at`` (default: now), as issues and claims both key it."""
        return period_of(self.settings, self.store.runs, list_name, at or self.clock())

    def send(
        self,
        list_name: str,
        *,
        dry_run: bool = False,
        at: datetime | None = None,
        progress: ProgressFn | None = None,
        trigger: str = "send",
        wait: timedelta = timedelta(0),
    ) -> SendReport:
        """Send the list's issue for the period holding ``at`` (default: now), or resume it.

        Never twice: the send holds the (list, period) claim and is recorded as a run, and a
        period's issue is stored before its first message goes out. ``ClaimHeldError`` when
        another live process holds the claim after ``wait``.
        """
        if dry_run:
            return self._send(list_name, at, dry_run=True)
        window = self.period(list_name, at)
        with self.claimed(list_name, window, trigger, wait) as run:
            if run is None:
                return self._already_sent(list_name, window)
            return self.recorded(run, lambda: self._send(list_name, window.end, progress))

    @contextmanager
    def claimed(
        self,
        list_name: str,
        window: Window,
        trigger: str,
        wait: timedelta = timedelta(0),
        retake: tuple[str, ...] = MANUAL,
        wave: datetime | None = None,
    ) -> Iterator[Run | None]:
        """Hold the (list, period) claim, or the (list, period, wave) one, for the block, its
        lease renewed; None: period (or wave) done. A lost lease (this process stalled past it
        and another took over) sets ``halt``.
        """
        lease = parse_duration(self.settings.scheduler.lease)
        runs = self.store.runs
        run = acquire(runs, list_name, window, trigger, self.clock, lease, wait, retake, wave)
        if run is None:
            yield None
            return
        with kept(runs, run, self.clock, lease, self.halt.set):
            yield run

    def recorded(self, run: Run, send: Callable[[], SendReport]) -> SendReport:
        """Do ``send`` as ``run`` and record its outcome, counts and destination."""
        try:
            report = send()
        except BaseException as exc:
            error = str(exc) if isinstance(exc, DigestError) else f"{type(exc).__name__}: {exc}"
            with suppress(StoreError):  # the database is away: the run's lease ends it instead
                self.store.runs.finish(run.id, "failed", self.clock(), detail=error)
            raise
        outcome, detail = run_outcome(report, self.halt.is_set())
        self.store.runs.finish(
            run.id,
            outcome,
            self.clock(),
            detail=detail,
            issue_number=report.issue_number,
            counts=report.counts,
            destination=self.settings.delivery.describe(report.destination),
        )
        return report

    def _already_sent(self, list_name: str, window: Window) -> SendReport:
        """The report for a period whose claim says it is done."""
        list_id = self.list_id(list_name)
        issue = self.store.issues.for_period(list_id, window)
        if issue is None:
            return SendReport(list_name, "already-sent")
        return replace(ledger_report(self.store, issue, list_name), outcome="already-sent")

    def _send(
        self,
        list_name: str,
        at: datetime | None,
        progress: ProgressFn | None = None,
        *,
        dry_run: bool = False,
    ) -> SendReport:
        """Build, freeze and deliver the period's issue; the caller holds its claim."""
        now = self.clock()
        lst = self.settings.list(list_name)
        problems = sync_list(self.settings, self.store, list_name, now).problems
        built = self.build(list_name, at)
        base = SendReport(
            built.list_name, "", issue_number=built.digest.number, roster_problems=problems
        )
        if built.stored is not None and built.stored.status == "sent":
            counts = self.store.issues.counts(built.stored.id)
            return replace(base, outcome="already-sent", issue_key=built.stored.key, counts=counts)
        if built.stored is None and not built.digest.posts and lst.skip_if_empty:
            return replace(base, outcome="no-posts")
        if lst.approval == "required" and (built.stored is None or built.stored.status == "draft"):
            log.warning("%s: issue %d is not approved; held", lst.name, built.digest.number)
            return replace(base, outcome="held")
        if dry_run:
            recipients = self.store.subscribers.count_active(built.list_id)
            return replace(base, outcome="dry-run", recipients=recipients)
        backend = self.backend()
        try:
            sender = self.sender(backend, progress)
            issue = sender.freeze(built)
            Archive(self.settings, self.builder.renderer).publish(built)
            sender.deliver(issue, built.list_name)
        finally:
            backend.close()
        return replace(
            ledger_report(self.store, issue, built.list_name),
            roster_problems=problems,
            destination=backend.destination(sender.envelope(issue, built.list_name)),
        )

    def sender(self, backend: DeliveryBackend, progress: ProgressFn | None = None) -> Sender:
        signer = self.signer(backend)
        kind = Sender
        if self.settings.workers.broker_url():
            # Celery takes most of a second to import: only sends through workers pay for it
            from .workers.dispatch import WorkerSender

            kind = WorkerSender
        return kind(
            self.settings,
            self.store,
            backend,
            signer,
            self.clock,
            progress=progress,
            halt=self.halt,
            segment_key=self.builder.segment_key,
        )

    def unfinished(self, list_name: str) -> list[IssueRow]:
        """The list's issues that still have recipients to send to or to decide about."""
        list_id = self.list_id(list_name)
        return self.store.issues.unfinished(list_id)

    def resume(
        self, list_name: str, progress: ProgressFn | None = None, wait: timedelta = timedelta(0)
    ) -> list[SendReport]:
        """Carry on with every unfinished issue of the list, each under its period's claim.

        ``unknown`` rows wait for ops; rows a dead holder left ``submitted`` become ``unknown``
        only here, once its lease has run out and this process holds the claim.
        """
        sync_list(self.settings, self.store, list_name, self.clock())
        reports = []
        for issue in self.unfinished(list_name):
            with self.claimed(list_name, issue.window, "resume", wait) as run:
                if run is None:
                    continue
                reports.append(self.recorded(run, self._resumer(issue, list_name, progress)))
        return reports

    def _resumer(
        self, issue: IssueRow, list_name: str, progress: ProgressFn | None
    ) -> Callable[[], SendReport]:
        return lambda: self._resume(issue, list_name, progress)

    def _resume(self, issue: IssueRow, list_name: str, progress: ProgressFn | None) -> SendReport:
        """Deliver the rest of ``issue`` (read again: the claim may have changed hands)."""
        issue = self.store.issues.for_period(issue.list_id, issue.window) or issue
        backend = self.backend()
        try:
            sender = self.sender(backend, progress)
            sender.deliver(issue, list_name)
        finally:
            backend.close()
        return replace(
            ledger_report(self.store, issue, list_name),
            destination=backend.destination(sender.envelope(issue, list_name)),
        )

    def resolve_unknown(
        self,
        list_name: str,
        resend: bool,
        chunks: tuple[str, ...] = (),
        emails: tuple[str, ...] = (),
    ) -> list[IssueRow]:
        """Ops' decision on unknown rows (all, or those in ``chunks`` or with ``emails``):
        planned again, or skipped."""
        touched = []
        for issue in self.unfinished(list_name):
            if self.store.issues.resolve(issue.id, resend, self.clock(), chunks, emails):
                touched.append(issue)
                if outcome_of(self.store.issues.counts(issue.id)) == "sent":
                    self.store.issues.finish(issue.id, "sent", self.clock())
        return touched

    def retry_failed(
        self, list_name: str, progress: ProgressFn | None = None, wait: timedelta = timedelta(0)
    ) -> list[SendReport]:
        """Send once more to the list's failed recipients whose reason can change.

        Under the period's claim, like every send: a period already recorded as sent is taken
        again for this, and the rows are re-planned only once the claim is held.
        """
        list_id = self.list_id(list_name)
        issue = self.store.issues.latest(list_id)
        while issue is not None and issue.status not in ("sending", "sent") and issue.number > 1:
            issue = self.store.issues.by_number(list_id, issue.number - 1)  # the last one sent
        if issue is None or issue.status not in ("sending", "sent"):
            return []
        sync_list(self.settings, self.store, list_name, self.clock())
        found = issue
        with self.claimed(list_name, found.window, "retry-failed", wait, RETRY) as run:
            if run is None:
                return []

            def retry() -> SendReport:
                if self.store.issues.retry_failed(found.id, self.clock(), transient):
                    self.store.issues.set_status(found.id, "sending")
                return self._resume(found, list_name, progress)

            return [self.recorded(run, retry)]

    def send_test(
        self,
        list_name: str,
        addresses: Sequence[str],
        at: datetime | None = None,
        segment: str = ALL,
    ) -> SendReport:
        """Send the period's issue as ``segment`` gets it, marked [TEST], to ``addresses`` only,
        outside the ledger."""
        built = self.build(list_name, at)
        issue = self.builder.test_issue(built, segment, self.clock())
        backend = self.backend()
        try:
            return self.sender(backend).test_report(issue, built.list_name, addresses)
        finally:
            backend.close()

    def approve(self, list_name: str, actor: str, at: datetime | None = None) -> IssueRow:
        """Freeze the list's coming issue (or ``at``'s) as approved: every segment, as previewed."""
        built = self.coming(list_name) if at is None else self.build(list_name, at)
        empty_ok = not self.settings.list(list_name).skip_if_empty
        return issues.approve(self.store, built, actor, self.clock(), allow_empty=empty_ok)

    def unapprove(self, list_name: str, actor: str) -> IssueRow:
        """Take back the approval of the list's issue; it is a draft again, editable."""
        return issues.unapprove(self.store, self.settings.list(list_name).name, actor, self.clock())

    def run(self, wait: timedelta = timedelta(0)) -> RunReport:
        """The main job: collect, then send every list whose current issue is not sent."""
        collected = self.collect()
        sends, busy = [], []
        for lst in self.settings.lists:
            if lst.deliver == "local":
                continue  # sent in waves: digest.waves.runs.run_due
            try:
                sends.append(self.send(lst.name, trigger="run", wait=wait))
            except ClaimHeldError as exc:
                busy.append(exc)
        return RunReport(collected, tuple(sends), tuple(busy))

    def run_period(
        self,
        list_name: str,
        window: Window,
        trigger: str,
        *,
        retake: tuple[str, ...] = MANUAL,
        wait: timedelta = timedelta(0),
    ) -> Run | None:
        """Claim one period, collect, send its issue and record the run; None: done already.

        A failed send is recorded on the run and logged, not raised; ``ClaimHeldError`` is.
        """
        with self.claimed(list_name, window, trigger, wait, retake) as run:
            if run is None:
                return None

            def collect_and_send() -> SendReport:
                self.collect()
                report = self._send(list_name, window.end)
                for problem in report.roster_problems:
                    log.warning("%s: roster %s", list_name, problem)
                return report

            try:
                self.recorded(run, collect_and_send)
            except DigestError as exc:  # recorded on the run; the caller reads it from there
                log.error("%s: run failed: %s", list_name, exc)
            except Exception:
                log.exception("%s: run crashed", list_name)
        return self.store.runs.get(run.id)

    def close(self) -> None:
        self.store.close()
