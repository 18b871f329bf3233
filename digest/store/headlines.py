"""Editors' subject and preheader of a list's coming issue, for the whole issue or a segment."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, and_, select

from ..models import Headline, Headlines
from .issues import frozen
from .schema import headlines, issues, lists

ISSUE = ""
"""The segment key under which the whole issue's headline is stored."""


class HeadlineRepo:
    """Reads and writes ``headlines``; a write is refused once the period's issue is frozen."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def for_period(self, list_name: str, period_start: datetime) -> Headlines:
        """The editors' headlines of the list's issue for the period starting ``period_start``."""
        c = headlines.c
        query = select(c.segment, c.subject, c.preheader).where(
            c.list_name == list_name, c.period_start == period_start
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(c.segment)).all()
        issue = Headline()
        segments = []
        for segment, subject, preheader in rows:
            if segment == ISSUE:
                issue = Headline(subject, preheader)
            else:
                segments.append((segment, Headline(subject, preheader)))
        return Headlines(issue, tuple(segments))

    def set(
        self,
        list_name: str,
        period_start: datetime,
        segment: str,
        headline: Headline,
        actor: str,
        at: datetime,
    ) -> None:
        """Store ``headline`` for the issue (``segment`` ``""``) or one segment, by ``actor``.

        An empty headline (both None) removes the row: the automatic ones apply again. Refused
        (FrozenError) once the list has an issue stored for the period (approved or sent).
        """
        c = headlines.c
        held = (
            select(lists.c.name, issues.c.number, issues.c.status)
            .select_from(issues.join(lists, lists.c.id == issues.c.list_id))
            .where(lists.c.name == list_name, issues.c.period_start == period_start)
        )
        key = and_(c.list_name == list_name, c.period_start == period_start, c.segment == segment)
        with self.engine.begin() as conn:
            # the first write takes SQLite's write lock: no approval can slip in between
            conn.execute(headlines.delete().where(key, ~held.exists()))
            row = conn.execute(held.limit(1)).first()
            if row is not None:
                raise frozen(
                    row[0], row[1], row[2], "its subject and preheader can no longer change"
                )
            if headline.subject is None and headline.preheader is None:
                return
            conn.execute(
                headlines.insert().values(
                    list_name=list_name,
                    period_start=period_start,
                    segment=segment,
                    subject=headline.subject,
                    preheader=headline.preheader,
                    actor=actor,
                    at=at,
                )
            )

    def changed(self, list_name: str, period_start: datetime) -> dict[str, tuple[str, datetime]]:
        """Who last set each segment's headline (``""``: the issue's), and when."""
        c = headlines.c
        query = select(c.segment, c.actor, c.at).where(
            c.list_name == list_name, c.period_start == period_start
        )
        with self.engine.connect() as conn:
            return {segment: (actor, at) for segment, actor, at in conn.execute(query)}
