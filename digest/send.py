"""Send phase: freeze the issue, plan the ledger, deliver exactly once per subscriber."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice

from .build import BuiltIssue
from .config import Settings
from .delivery.base import DeliveryBackend
from .models import Envelope, Recipient
from .roster import RowProblem, read_roster
from .store import Store
from .store.issues import (
    ACCEPTED,
    FAILED,
    PLANNED,
    SUBMITTED,
    SUPPRESSED,
    UNKNOWN,
    IssueRow,
    LedgerRow,
)
from .tokens import Signer, TokenClaims

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class SendReport:
    """What sending one list's issue did."""

    list_name: str
    outcome: str
    """``sent``, ``already-sent``, ``no-posts``, ``dry-run`` or ``incomplete``."""
    issue_number: int | None = None
    issue_key: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    recipients: int = 0
    roster_problems: tuple[RowProblem, ...] = ()
    destination: str | None = None


def sync_roster(
    settings: Settings, store: Store, list_name: str, now: datetime
) -> tuple[int, tuple[RowProblem, ...]]:
    """Bring the list's roster file into the store; return the list id and skipped rows."""
    lst = settings.list(list_name)
    roster = read_roster(lst.subscribers)
    for problem in roster.problems:
        log.warning("%s", problem)
    list_id = store.subscribers.list_id(lst.name)
    store.subscribers.sync(list_id, roster.subscribers, now)
    return list_id, roster.problems


def _chunks(rows: Iterator[LedgerRow], size: int) -> Iterator[list[LedgerRow]]:
    while chunk := list(islice(rows, size)):
        yield chunk


class Sender:
    """Delivers frozen issues through one backend, recording every step in the ledger."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        backend: DeliveryBackend,
        signer: Signer,
        clock: Clock = lambda: datetime.now(UTC),
    ):
        self.settings = settings
        self.store = store
        self.backend = backend
        self.signer = signer
        self.clock = clock

    def envelope(self, issue: IssueRow, list_name: str) -> Envelope:
        nl = self.settings.newsletter
        return Envelope(
            list_name=list_name,
            issue_id=issue.id,
            issue_key=issue.key,
            email=issue.email,
            from_address=nl.from_address,
            from_name=nl.from_name or nl.name,
            reply_to=nl.reply_to,
            unsubscribe_mailto=nl.unsubscribe_mailto,
            categories=(list_name, f"issue-{issue.key}"),
        )

    def recipient(self, row: LedgerRow, list_name: str, issue_id: int) -> Recipient:
        token = self.signer.sign(TokenClaims(list_name, row.subscriber_id, issue_id))
        base = self.settings.newsletter.base_url.rstrip("/")
        return Recipient(
            subscriber_id=row.subscriber_id,
            email=row.email,
            name=row.name,
            unsubscribe_url=f"{base}/unsubscribe/{token}",
            preferences_url=f"{base}/preferences/{token}",
        )

    def freeze(self, built: BuiltIssue) -> IssueRow:
        """Store the built issue and plan a ledger row per active subscriber (idempotent)."""
        now = self.clock()
        issue = built.stored or self.store.issues.create(
            built.list_id, built.digest.number, built.window, built.post_ids, built.email, now
        )
        if issue is None:  # another process froze this period first
            issue = self.store.issues.for_period(built.list_id, built.window)
            assert issue is not None
        if issue.status == "sending":
            self.store.issues.plan(issue.id, self.store.subscribers.active(built.list_id), now)
        return issue

    def deliver(self, issue: IssueRow, list_name: str) -> dict[str, int]:
        """Send to every planned recipient; resume-safe; returns the ledger counts."""
        envelope = self.envelope(issue, list_name)
        statuses = [PLANNED, SUBMITTED] if self.backend.idempotent else [PLANNED]
        if not self.backend.idempotent:
            stale = [r for r in self.store.issues.ledger(issue.id, [SUBMITTED])]
            self.store.issues.mark(
                issue.id,
                [(r.subscriber_id, UNKNOWN, None, "interrupted after submit") for r in stale],
                self.clock(),
            )
        ledger = self.store.issues.ledger(issue.id, statuses)
        for chunk in _chunks(ledger, self.backend.max_batch):
            self._send_chunk(issue, list_name, envelope, chunk)
        counts = self.store.issues.counts(issue.id)
        if not counts.get(PLANNED) and not counts.get(SUBMITTED):
            self.store.issues.finish(issue.id, "sent", self.clock())
        return counts

    def _send_chunk(
        self, issue: IssueRow, list_name: str, envelope: Envelope, chunk: list[LedgerRow]
    ) -> None:
        ids = [r.subscriber_id for r in chunk]
        current = {r.subscriber_id: r for r in self.store.issues.ledger_for(issue.id, ids)}
        live, gone = [], []
        for row in chunk:
            now_row = current.get(row.subscriber_id, row)
            if now_row.subscriber_status != "active" or not now_row.in_roster:
                gone.append((row.subscriber_id, SUPPRESSED, None, now_row.subscriber_status))
            else:
                live.append(now_row)
        self.store.issues.mark(issue.id, gone, self.clock())
        if not live:
            return
        self.store.issues.mark(
            issue.id, [(r.subscriber_id, SUBMITTED, None, None) for r in live], self.clock()
        )
        results = self.backend.deliver(
            envelope, [self.recipient(r, list_name, issue.id) for r in live]
        )
        final = {ACCEPTED, FAILED, UNKNOWN}
        self.store.issues.mark(
            issue.id,
            [
                (r.subscriber_id, r.status if r.status in final else PLANNED, r.message_id, r.error)
                for r in results
            ],
            self.clock(),
        )
