"""Ops' decisions on a send's ledger: unknown rows per recipient, resolving them, retrying."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from .ledger_sql import FAILED, PLANNED, SKIPPED, UNKNOWN
from .schema import deliveries


@dataclass(frozen=True, slots=True)
class UnknownChunk:
    """A chunk whose fate is unknown: its id, how many recipients, and a few of them."""

    chunk: str
    count: int
    sample: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UnknownRecipient:
    """One recipient who may or may not have received the issue, and why that is unknown."""

    email: str
    chunk: str
    reason: str


class DecisionRepo:
    """Reads unknown and failed rows and applies ops' decisions; mixed into the issue repo."""

    engine: Engine

    def unknown(self, issue_id: int, sample: int = 5) -> list[UnknownChunk]:
        """The issue's unknown rows, by chunk, with a few addresses of each."""
        by_chunk: dict[str, list[str]] = defaultdict(list)
        for r in self.unknown_recipients(issue_id):
            by_chunk[r.chunk].append(r.email)
        return [UnknownChunk(c, len(e), tuple(e[:sample])) for c, e in by_chunk.items()]

    def unknown_recipients(self, issue_id: int) -> list[UnknownRecipient]:
        """Every unknown row of the issue, by chunk then subscriber."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(deliveries.c.email, deliveries.c.chunk, deliveries.c.error)
                .where(deliveries.c.issue_id == issue_id, deliveries.c.status == UNKNOWN)
                .order_by(deliveries.c.chunk, deliveries.c.subscriber_id)
            ).all()
        return [UnknownRecipient(e, c or "-", r or "") for e, c, r in rows]

    def resolve(
        self,
        issue_id: int,
        resend: bool,
        now: datetime,
        chunks: Sequence[str] = (),
        emails: Sequence[str] = (),
    ) -> int:
        """Ops' decision on unknown rows (all, or those in ``chunks`` or with ``emails``):
        plan them again, or mark them skipped."""
        where = [deliveries.c.issue_id == issue_id, deliveries.c.status == UNKNOWN]
        if chunks:
            where.append(deliveries.c.chunk.in_(list(chunks)))
        if emails:
            where.append(deliveries.c.email.in_(list(emails)))
        values = {"status": PLANNED} if resend else {"status": SKIPPED}
        with self.engine.begin() as conn:
            return max(
                conn.execute(
                    deliveries.update().where(*where).values(updated_at=now, **values)
                ).rowcount,
                0,
            )

    def retry_failed(self, issue_id: int, now: datetime, transient: Callable[[str], bool]) -> int:
        """Plan again the failed rows whose reason ``transient`` says can change; how many.

        The ``failed`` status is the guard: a row is planned again by one call only, and
        then goes through the ledger like any other (claimed, submitted, its outcome).
        """
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(deliveries.c.id, deliveries.c.error).where(
                    deliveries.c.issue_id == issue_id, deliveries.c.status == FAILED
                )
            ).all()
            ids = [i for i, error in rows if transient(error or "")]
            done = 0
            for start in range(0, len(ids), 500):
                done += conn.execute(
                    deliveries.update()
                    .where(
                        deliveries.c.id.in_(ids[start : start + 500]),
                        deliveries.c.status == FAILED,
                    )
                    .values(status=PLANNED, updated_at=now)
                ).rowcount
        return done
