"""Issues and the per-recipient send ledger that makes sending exactly-once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy import Engine, RowMapping, func, select
from sqlalchemy.exc import IntegrityError

from ..errors import FrozenError, NotFoundError
from ..models import IssueRow, RenderedEmail, Window
from ..placeholders import Placeholders
from .decisions import DecisionRepo
from .leases import ChunkLeaseRepo
from .ledger import LedgerRepo, LedgerRow
from .ledger_sql import (
    ACCEPTED,
    CLAIMED,
    FAILED,
    PLANNED,
    SKIPPED,
    SUBMITTED,
    SUPPRESSED,
    UNKNOWN,
    WAITING,
)
from .schema import issue_posts, issue_segments, issues, lists
from .wave_ledger import WaveLedgerRepo

__all__ = [
    "ACCEPTED",
    "CLAIMED",
    "FAILED",
    "PLANNED",
    "SKIPPED",
    "SUBMITTED",
    "SUPPRESSED",
    "UNKNOWN",
    "WAITING",
    "IssueRepo",
    "IssueRow",
    "LedgerRow",
    "frozen",
]


def frozen(list_name: str, number: int, status: str, change: str) -> FrozenError:
    """The error for a ``change`` to list's issue ``number``, which is approved or sent."""
    if status == "approved":
        hint = f"digest unapprove {list_name}, change it, then approve it again"
    else:
        hint = "a sent issue is final; edit the coming issue instead (digest posts list)"
    return FrozenError(
        f"issue {number} is {status}: {change}", subject=f"list {list_name}", hint=hint
    )


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
            placeholders=Placeholders(row["placeholders"] or ""),
        ),
        created_at=row["created_at"],
        finished_at=row["finished_at"],
        waves=tuple(datetime.fromisoformat(w) for w in row["waves"] or ()),
        planned_at=row["planned_at"],
    )


class IssueRepo(LedgerRepo, WaveLedgerRepo, DecisionRepo, ChunkLeaseRepo):
    """Reads and writes ``issues`` and ``issue_posts``; the ledger comes from LedgerRepo and
    ops' decisions on it from DecisionRepo."""

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
                name = conn.execute(select(lists.c.name).where(lists.c.id == list_id)).scalar()
        if row is None:  # messages name the list, never its database id
            raise NotFoundError(
                f"no issue number {number}",
                subject=f"list {name}",
                hint=f"digest runs --list {name} shows the issues sent so far",
            )
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
        status: str = "sending",
        approved_by: str | None = None,
        segments: Mapping[str, RenderedEmail] | None = None,
        waves: Sequence[datetime] = (),
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
                        status=status,
                        approved_by=approved_by,
                        approved_at=now if approved_by else None,
                        subject=email.subject,
                        preheader=email.preheader,
                        html=email.html,
                        text=email.text,
                        mjml=email.mjml,
                        placeholders=email.placeholders.key,
                        created_at=now,
                        waves=[w.astimezone(UTC).isoformat() for w in waves] or None,
                    )
                ).inserted_primary_key
                assert key is not None
                issue_id = key[0]
                if segments:
                    conn.execute(
                        issue_segments.insert(),
                        [
                            {
                                "issue_id": issue_id, "key": key, "subject": e.subject,
                                "preheader": e.preheader, "html": e.html, "text": e.text,
                                "mjml": e.mjml, "placeholders": e.placeholders.key,
                            }
                            for key, e in segments.items()
                        ],
                    )  # fmt: skip
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

    def post_ids(self, issue_id: int) -> list[int]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(issue_posts.c.post_id)
                    .where(issue_posts.c.issue_id == issue_id)
                    .order_by(issue_posts.c.position)
                ).scalars()
            )

    def segments_of(self, issue_id: int) -> dict[str, RenderedEmail]:
        """The issue's stored renderings for audience segments, by segment key."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(issue_segments).where(issue_segments.c.issue_id == issue_id)
            ).mappings()
            return {
                r["key"]: RenderedEmail(
                    r["subject"],
                    r["preheader"],
                    r["html"],
                    r["text"],
                    r["mjml"],
                    Placeholders(r["placeholders"] or ""),
                )
                for r in rows
            }

    def start_sending(self, issue: IssueRow) -> IssueRow:
        """Move an approved issue to ``sending``; FrozenError if it was unapproved meanwhile."""
        with self.engine.begin() as conn:
            conn.execute(
                issues.update()
                .where(issues.c.id == issue.id, issues.c.status == "approved")
                .values(status="sending")
            )
            row = conn.execute(select(issues).where(issues.c.id == issue.id)).mappings().first()
            name = conn.execute(select(lists.c.name).where(lists.c.id == issue.list_id)).scalar()
        if row is None:
            raise FrozenError(
                f"issue {issue.number} was unapproved as its send began; nothing was sent",
                subject=f"list {name}",
                hint=f"approve it again: digest approve {name}",
            )
        return _issue(row)

    def unapprove(self, issue_id: int) -> bool:
        """Forget an approved issue (it is a draft again); False once its send has begun."""
        approved = select(issues.c.id).where(issues.c.id == issue_id, issues.c.status == "approved")
        with self.engine.begin() as conn:
            # the first write takes SQLite's write lock: no send can start in between
            conn.execute(issue_segments.delete().where(issue_segments.c.issue_id.in_(approved)))
            conn.execute(issue_posts.delete().where(issue_posts.c.issue_id.in_(approved)))
            gone = conn.execute(
                issues.delete().where(issues.c.id == issue_id, issues.c.status == "approved")
            ).rowcount
        return bool(gone)

    def set_status(self, issue_id: int, status: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(issues.update().where(issues.c.id == issue_id).values(status=status))

    def finish(self, issue_id: int, status: str, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                issues.update()
                .where(issues.c.id == issue_id)
                .values(status=status, finished_at=now)
            )
