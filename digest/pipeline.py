"""The main job, phase by phase: collect → build (summarize, group, render) → send."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from . import registry
from .archive import Archive
from .build import Builder, BuiltIssue, store_issue
from .collect import CollectReport, collect
from .config import Settings
from .delivery.base import DeliveryBackend
from .errors import DigestError, FrozenError
from .models import StoredPost
from .send import ProgressFn, Sender, SendReport, ledger_report, outcome_of, sync_roster
from .store import Store
from .store.desk import DeskRepo
from .store.issues import IssueRow
from .tokens import Signer

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class RunReport:
    """What one ``digest run`` did."""

    collected: CollectReport
    sends: tuple[SendReport, ...]


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
        list_id = self.store.subscribers.list_id(lst.name)
        previous = self.store.issues.latest(list_id)
        return self.store.posts.for_issue(
            list_id, built.window, previous.created_at if previous else None
        )

    def issue_posts(self, list_name: str, number: int) -> list[StoredPost]:
        """The posts of a list's stored issue ``number``."""
        list_id = self.store.subscribers.list_id(self.settings.list(list_name).name)
        issue = self.store.issues.by_number(list_id, number)
        return self.store.posts.by_ids(self.store.issues.post_ids(issue.id))

    def backend(self, name: str | None = None) -> DeliveryBackend:
        kind = registry.delivery_backends()[name or self.settings.delivery.backend]
        return kind.factory(self.settings)

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

    def send(
        self,
        list_name: str,
        *,
        dry_run: bool = False,
        at: datetime | None = None,
        progress: ProgressFn | None = None,
    ) -> SendReport:
        """Send the list's issue for the period holding ``at`` (default: now), or resume it.

        Never twice: a period's issue is stored before its first message goes out.
        """
        now = self.clock()
        lst = self.settings.list(list_name)
        _, problems = sync_roster(self.settings, self.store, list_name, now)
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
            sender = self._sender(backend, progress)
            issue = sender.freeze(built)
            Archive(self.settings, self.builder.renderer).publish(built.digest)
            sender.deliver(issue, built.list_name)
        finally:
            backend.close()
        folder = getattr(backend, "folder", None)
        return replace(
            ledger_report(self.store, issue, built.list_name),
            roster_problems=problems,
            destination=str(folder(sender.envelope(issue, built.list_name))) if folder else None,
        )

    def _sender(self, backend: DeliveryBackend, progress: ProgressFn | None = None) -> Sender:
        signer = self.signer(backend)
        return Sender(
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
        list_id = self.store.subscribers.list_id(self.settings.list(list_name).name)
        return self.store.issues.unfinished(list_id)

    def resume(self, list_name: str, progress: ProgressFn | None = None) -> list[SendReport]:
        """Carry on with every unfinished issue of the list; ``unknown`` rows wait for ops."""
        sync_roster(self.settings, self.store, list_name, self.clock())
        reports = []
        for issue in self.unfinished(list_name):
            backend = self.backend()
            try:
                self._sender(backend, progress).deliver(issue, list_name)
            finally:
                backend.close()
            reports.append(ledger_report(self.store, issue, list_name))
        return reports

    def resolve_unknown(
        self, list_name: str, resend: bool, chunks: tuple[str, ...] = ()
    ) -> list[IssueRow]:
        """Ops' decision on unknown rows (all, or those ``chunks``): planned again, or skipped."""
        touched = []
        for issue in self.unfinished(list_name):
            if self.store.issues.resolve(issue.id, resend, self.clock(), chunks):
                touched.append(issue)
                if outcome_of(self.store.issues.counts(issue.id)) == "sent":
                    self.store.issues.finish(issue.id, "sent", self.clock())
        return touched

    def send_test(
        self, list_name: str, addresses: Sequence[str], at: datetime | None = None
    ) -> SendReport:
        """Send the period's issue, marked [TEST], to ``addresses`` only, outside the ledger."""
        built = self.build(list_name, at)
        issue = built.stored or IssueRow(
            0, built.list_id, built.digest.number, built.window, "draft", built.email,
            self.clock(), None,
        )  # fmt: skip
        backend = self.backend()
        try:
            sender = self._sender(backend)
            results = sender.test_send(issue, built.list_name, list(addresses))
        finally:
            backend.close()
        folder = getattr(backend, "folder", None)
        where = folder(sender.envelope(issue, built.list_name)) if folder else None
        return SendReport(
            built.list_name,
            "test",
            issue_number=built.digest.number,
            counts=dict(Counter(r.status for r in results)),
            recipients=len(results),
            destination=str(where) if where else None,
            failures=tuple(Counter(r.error or "" for r in results if r.status == "failed").items()),
        )

    def approve(self, list_name: str, actor: str, at: datetime | None = None) -> IssueRow:
        """Freeze the list's coming issue (or the one of ``at``'s period) as approved by ``actor``.

        Frozen exactly as previewed: the whole issue, every segment's rendering, its posts.
        """
        built = self.coming(list_name) if at is None else self.build(list_name, at)
        if built.stored is not None:
            raise DigestError(
                f"issue {built.stored.number} is already {built.stored.status}",
                subject=f"list {built.list_name}",
                hint="an approved or sent issue cannot be approved again",
            )
        issue = store_issue(self.store, built, self.clock(), approved_by=actor)
        if issue is None:
            raise DigestError("another process froze this issue first", subject=list_name)
        self._record(built.list_name, issue.number, "approve", actor)
        log.info("%s: issue %d approved by %s", built.list_name, issue.number, actor)
        return issue

    def unapprove(self, list_name: str, actor: str) -> IssueRow:
        """Take back the approval of the list's issue; it is a draft again, editable."""
        lst = self.settings.list(list_name)
        issue = self.store.issues.latest(self.store.subscribers.list_id(lst.name))
        if issue is None or issue.status == "sent":
            last = f"issue {issue.number} is sent; " if issue else ""
            raise FrozenError(
                f"{last}no issue is approved",
                subject=f"list {lst.name}",
                hint=f"approve the coming issue with: digest approve {lst.name}",
            )
        if issue.status != "approved" or not self.store.issues.unapprove(issue.id):
            raise FrozenError(
                f"issue {issue.number} is sending; it can no longer be unapproved",
                subject=f"list {lst.name}",
                hint=f"see how far it got: digest issues show {issue.number} --list {lst.name}",
            )
        self._record(lst.name, issue.number, "unapprove", actor)
        log.info("%s: issue %d unapproved by %s", lst.name, issue.number, actor)
        return issue

    def _record(self, list_name: str, number: int, action: str, actor: str) -> None:
        DeskRepo(self.store.engine).record(list_name, number, action, "", actor, self.clock())

    def run(self) -> RunReport:
        """The main job: collect, then send every list whose current issue is not sent."""
        collected = self.collect()
        sends = tuple(self.send(lst.name) for lst in self.settings.lists)
        return RunReport(collected, sends)

    def close(self) -> None:
        self.store.close()
