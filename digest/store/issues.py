"""Issues and the per-recipient send ledger that makes sending exactly-once."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, RowMapping, func, select
from sqlalchemy.exc import IntegrityError

from ..errors import NotFoundError
from ..models import RenderedEmail, Subscriber, Window
from .schema import deliveries, issue_posts, issues, subscribers

PLANNED, SUBMITTED, ACCEPTED, FAILED, UNKNOWN, SUPPRESSED = (
    "planned",
    "submitted",
    "accepted",
    "failed",
    "unknown",
    "suppressed",
)


@dataclass(frozen=True, slots=True)
class IssueRow:
    """A stored issue: frozen content of one list's period."""

    id: int
    list_id: int
    number: int
    window: Window
    status: str
    email: RenderedEmail
    created_at: datetime
    finished_at: datetime | None

    @property
    def key(self) -> str:
        return f"{self.window.end.strftime('%Y-%m-%d')}-{self.number}"


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """One (issue, subscriber) entry of the ledger, with the subscriber's current standing."""

    subscriber_id: int
    email: str
    name: str
    status: str
    subscriber_status: str
    in_roster: bool


def _issue(row: RowMapping) -> IssueRow:
    return IssueRow(
        id=row["id"],
        list_id=row["list_id"],
        number=row["number"],
        window=Window(row["period_start"], row["period_end"]),
        status=row["status"],
        email=RenderedEmail(
            subject=row["subject"],
            preheader=row["preheader"],
            html=row["html"],
            text=row["text"],
            mjml=row["mjml"],
        ),
        created_at=row["created_at"],
        finished_at=row["finished_at"],
    )


class IssueRepo:
    """Reads and writes ``issues``, ``issue_posts`` and ``deliveries``."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def for_period(self, list_id: int, window: Window) -> IssueRow | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(issues).where(
                        issues.c.list_id == list_id, issues.c.period_start == window.start
                    )
                )
                .mappings()
                .first()
            )
        return _issue(row) if row else None

    def latest(self, list_id: int) -> IssueRow | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(issues)
                    .where(issues.c.list_id == list_id)
                    .order_by(issues.c.number.desc())
                    .limit(1)
                )
                .mappings()
                .first()
            )
        return _issue(row) if row else None

    def by_number(self, list_id: int, number: int) -> IssueRow:
        """The list's issue ``number``; NotFoundError when there is none."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(issues).where(issues.c.list_id == list_id, issues.c.number == number)
                )
                .mappings()
                .first()
            )
        if row is None:
            raise NotFoundError(f"no issue number {number}", subject=f"list {list_id}")
        return _issue(row)

    def unfinished(self, list_id: int) -> list[IssueRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(issues)
                .where(issues.c.list_id == list_id, issues.c.status == "sending")
                .order_by(issues.c.number)
            ).mappings()
            return [_issue(r) for r in rows]

    def next_number(self, list_id: int) -> int:
        with self.engine.connect() as conn:
            top = conn.execute(
                select(func.max(issues.c.number)).where(issues.c.list_id == list_id)
            ).scalar()
        return int(top or 0) + 1

    def create(
        self,
        list_id: int,
        number: int,
        window: Window,
        post_ids: Sequence[int],
        email: RenderedEmail,
        now: datetime,
    ) -> IssueRow | None:
        """Freeze an issue and claim its posts; None when the period already has an issue."""
        try:
            with self.engine.begin() as conn:
                key = conn.execute(
                    issues.insert().values(
                        list_id=list_id,
                        number=number,
                        period_start=window.start,
                        period_end=window.end,
                        status="sending",
                        subject=email.subject,
                        preheader=email.preheader,
                        html=email.html,
                        text=email.text,
                        mjml=email.mjml,
                        created_at=now,
                    )
                ).inserted_primary_key
                assert key is not None
                issue_id = key[0]
                if post_ids:
                    conn.execute(
                        issue_posts.insert(),
                        [
                            {"issue_id": issue_id, "list_id": list_id, "post_id": p, "position": i}
                            for i, p in enumerate(post_ids)
                        ],
                    )
        except IntegrityError:
            return None
        return self.for_period(list_id, window)

    def plan(self, issue_id: int, recipients: Iterable[Subscriber], now: datetime) -> int:
        """Add a ``planned`` ledger row for every recipient not yet in the ledger."""
        added = 0
        batch: list[Subscriber] = []

        def flush() -> int:
            with self.engine.begin() as conn:
                ids = [s.id for s in batch]
                have = set(
                    conn.execute(
                        select(deliveries.c.subscriber_id).where(
                            deliveries.c.issue_id == issue_id,
                            deliveries.c.subscriber_id.in_(ids),
                        )
                    ).scalars()
                )
                rows = [
                    {
                        "issue_id": issue_id,
                        "subscriber_id": s.id,
                        "email": s.email,
                        "status": PLANNED,
                        "attempts": 0,
                        "updated_at": now,
                    }
                    for s in batch
                    if s.id not in have
                ]
                if rows:
                    conn.execute(deliveries.insert(), rows)
            return len(rows)

        for sub in recipients:
            batch.append(sub)
            if len(batch) >= 1000:
                added += flush()
                batch = []
        if batch:
            added += flush()
        return added

    def ledger(
        self, issue_id: int, statuses: Sequence[str], batch: int = 1000
    ) -> Iterator[LedgerRow]:
        """Ledger rows of the issue in the given statuses, streamed in subscriber order."""
        last = 0
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(
                        deliveries.c.subscriber_id,
                        deliveries.c.email,
                        subscribers.c.name,
                        deliveries.c.status,
                        subscribers.c.status,
                        subscribers.c.in_roster,
                    )
                    .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
                    .where(
                        deliveries.c.issue_id == issue_id,
                        deliveries.c.status.in_(statuses),
                        deliveries.c.subscriber_id > last,
                    )
                    .order_by(deliveries.c.subscriber_id)
                    .limit(batch)
                ).all()
            chunk = [LedgerRow(*r) for r in rows]
            yield from chunk
            if len(chunk) < batch:
                return
            last = chunk[-1].subscriber_id

    def ledger_for(self, issue_id: int, subscriber_ids: Sequence[int]) -> list[LedgerRow]:
        """The current ledger rows of the given subscribers, read fresh."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    deliveries.c.subscriber_id,
                    deliveries.c.email,
                    subscribers.c.name,
                    deliveries.c.status,
                    subscribers.c.status,
                    subscribers.c.in_roster,
                )
                .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
                .where(
                    deliveries.c.issue_id == issue_id,
                    deliveries.c.subscriber_id.in_(subscriber_ids),
                )
            ).all()
        return [LedgerRow(*r) for r in rows]

    def mark(
        self,
        issue_id: int,
        updates: Sequence[tuple[int, str, str | None, str | None]],
        now: datetime,
    ) -> None:
        """Set (subscriber_id, status, message_id, error) for each entry, in one transaction."""
        if not updates:
            return
        with self.engine.begin() as conn:
            for sub_id, status, message_id, error in updates:
                conn.execute(
                    deliveries.update()
                    .where(deliveries.c.issue_id == issue_id, deliveries.c.subscriber_id == sub_id)
                    .values(
                        status=status,
                        message_id=message_id,
                        error=error,
                        updated_at=now,
                        attempts=deliveries.c.attempts + (1 if status == SUBMITTED else 0),
                    )
                )

    def counts(self, issue_id: int) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(deliveries.c.status, func.count())
                .where(deliveries.c.issue_id == issue_id)
                .group_by(deliveries.c.status)
            ).all()
        return {str(status): int(n) for status, n in rows}

    def post_ids(self, issue_id: int) -> list[int]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(issue_posts.c.post_id)
                    .where(issue_posts.c.issue_id == issue_id)
                    .order_by(issue_posts.c.position)
                ).scalars()
            )

    def finish(self, issue_id: int, status: str, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                issues.update()
                .where(issues.c.id == issue_id)
                .values(status=status, finished_at=now)
            )
