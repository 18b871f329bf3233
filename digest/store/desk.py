"""The editors' desk: its log of issue actions, and the past issues it lists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from ..models import Window
from .schema import desk_actions, issues


@dataclass(frozen=True, slots=True)
class DeskAction:
    """One issue action taken at the desk: who did what to which issue, and when."""

    list_name: str
    issue_number: int | None
    action: str
    detail: str
    actor: str
    at: datetime


@dataclass(frozen=True, slots=True)
class PastIssue:
    """A stored issue as the desk's archive lists it."""

    id: int
    number: int
    window: Window
    status: str
    subject: str
    created_at: datetime
    finished_at: datetime | None


class DeskRepo:
    """Reads and writes ``desk_actions``; reads ``issues`` for the archive."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def record(
        self,
        list_name: str,
        issue_number: int | None,
        action: str,
        detail: str,
        actor: str,
        at: datetime,
    ) -> None:
        """Log one issue action with who took it and when."""
        with self.engine.begin() as conn:
            conn.execute(
                desk_actions.insert().values(
                    list_name=list_name,
                    issue_number=issue_number,
                    action=action,
                    detail=detail,
                    actor=actor,
                    at=at,
                )
            )

    def actions(self, list_name: str, limit: int = 20) -> list[DeskAction]:
        """The list's most recent issue actions, newest first."""
        c = desk_actions.c
        query = (
            select(c.list_name, c.issue_number, c.action, c.detail, c.actor, c.at)
            .where(c.list_name == list_name)
            .order_by(c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [DeskAction(*row) for row in conn.execute(query).all()]

    def past_issues(self, list_id: int, limit: int = 50) -> list[PastIssue]:
        """The list's stored issues, newest first."""
        c = issues.c
        query = (
            select(
                c.id,
                c.number,
                c.period_start,
                c.period_end,
                c.status,
                c.subject,
                c.created_at,
                c.finished_at,
            )
            .where(c.list_id == list_id)
            .order_by(c.number.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [PastIssue(r[0], r[1], Window(r[2], r[3]), r[4], r[5], r[6], r[7]) for r in rows]
