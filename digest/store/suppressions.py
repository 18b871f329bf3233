"""Suppressions: addresses that get no more mail, why, from where, and since when."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, Engine, delete, func, or_, select, update

from .schema import lists, subscribers, suppressions

REASONS = ("unsubscribed", "bounced", "complained")
"""Each reason is also the subscriber status it sets."""
SEVERITY = {"active": 0, "unsubscribed": 1, "bounced": 2, "complained": 3}


@dataclass(frozen=True, slots=True)
class Suppression:
    """One recorded suppression; ``list_name`` None means every list."""

    id: int
    email: str
    list_name: str | None
    reason: str
    detail: str
    origin: str
    created_at: datetime


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction holding SQLite's write lock from the start, so writers queue, not fail."""
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield conn


def _scope(list_id: int | None) -> ColumnElement[bool]:
    if list_id is None:
        return suppressions.c.list_id.is_(None)
    return suppressions.c.list_id == list_id


def apply(conn: Connection, email: str, list_id: int | None, reason: str, now: datetime) -> int:
    """Give the subscriptions a suppression covers its status (never a milder one)."""
    cond = [func.lower(subscribers.c.email) == email.lower()]
    if list_id is not None:
        cond.append(subscribers.c.list_id == list_id)
    changed = 0
    for sid, status in conn.execute(select(subscribers.c.id, subscribers.c.status).where(*cond)):
        if SEVERITY.get(status, 0) < SEVERITY[reason]:
            conn.execute(
                update(subscribers)
                .where(subscribers.c.id == sid)
                .values(status=reason, updated_at=now)
            )
            changed += 1
    return changed


def record(
    conn: Connection,
    email: str,
    list_id: int | None,
    reason: str,
    detail: str,
    origin: str,
    now: datetime,
) -> bool:
    """Record (once) and apply a suppression; True when it was not recorded before."""
    if reason not in REASONS:
        raise ValueError(f"reason must be one of {', '.join(REASONS)}, not {reason!r}")
    email = email.lower()
    found = conn.execute(
        select(suppressions.c.id).where(
            suppressions.c.email == email, _scope(list_id), suppressions.c.reason == reason
        )
    ).first()
    if found is None:
        conn.execute(
            suppressions.insert().values(
                email=email,
                list_id=list_id,
                reason=reason,
                detail=detail[:2000],
                origin=origin,
                created_at=now,
            )
        )
    apply(conn, email, list_id, reason, now)
    return found is None


def enforce(conn: Connection, list_id: int, now: datetime) -> int:
    """Suppress the list's active subscribers that a recorded suppression covers."""
    rows = conn.execute(
        select(subscribers.c.email, suppressions.c.reason)
        .join(suppressions, suppressions.c.email == func.lower(subscribers.c.email))
        .where(
            subscribers.c.list_id == list_id,
            subscribers.c.status == "active",
            or_(suppressions.c.list_id.is_(None), suppressions.c.list_id == list_id),
        )
    ).all()
    return sum(apply(conn, email, list_id, reason, now) for email, reason in rows)


class SuppressionRepo:
    """Reads and writes ``suppressions`` and the subscriber statuses they imply."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def add(
        self,
        email: str,
        reason: str,
        now: datetime,
        *,
        list_id: int | None = None,
        detail: str = "",
        origin: str = "cli",
    ) -> bool:
        """Suppress ``email`` on one list or (``list_id`` None) on every list."""
        with write_transaction(self.engine) as conn:
            return record(conn, email, list_id, reason, detail, origin, now)

    def unsubscribe(self, subscriber_id: int, detail: str, origin: str, now: datetime) -> bool:
        """Unsubscribe one subscription from its list; True if it was active until now."""
        with write_transaction(self.engine) as conn:
            row = conn.execute(
                select(subscribers.c.email, subscribers.c.list_id, subscribers.c.status).where(
                    subscribers.c.id == subscriber_id
                )
            ).first()
            if row is None:
                return False
            record(conn, row[0], row[1], "unsubscribed", detail, origin, now)
            return bool(row[2] == "active")

    def remove(self, email: str, now: datetime, *, list_id: int | None = None) -> int:
        """Lift the address's suppressions (one list's, or all) and reactivate what is clear."""
        email = email.lower()
        with write_transaction(self.engine) as conn:
            where = [suppressions.c.email == email]
            if list_id is not None:
                where.append(suppressions.c.list_id == list_id)
            removed = conn.execute(delete(suppressions).where(*where)).rowcount
            cond = [func.lower(subscribers.c.email) == email, subscribers.c.status != "active"]
            if list_id is not None:
                cond.append(subscribers.c.list_id == list_id)
            for sid, lid in conn.execute(
                select(subscribers.c.id, subscribers.c.list_id).where(*cond)
            ).all():
                left = conn.execute(
                    select(suppressions.c.id).where(
                        suppressions.c.email == email,
                        or_(suppressions.c.list_id.is_(None), suppressions.c.list_id == lid),
                    )
                ).first()
                if left is None:
                    conn.execute(
                        update(subscribers)
                        .where(subscribers.c.id == sid)
                        .values(status="active", updated_at=now)
                    )
            return int(removed)

    def resubscribe(self, list_id: int, email: str, now: datetime) -> str | None:
        """Make a suppressed subscription active again; returns its former status, if changed."""
        with write_transaction(self.engine) as conn:
            row = conn.execute(
                select(subscribers.c.id, subscribers.c.status).where(
                    subscribers.c.list_id == list_id, subscribers.c.email == email
                )
            ).first()
            if row is None or row[1] == "active":
                return None
            conn.execute(
                delete(suppressions).where(
                    suppressions.c.email == email.lower(),
                    or_(suppressions.c.list_id.is_(None), suppressions.c.list_id == list_id),
                )
            )
            conn.execute(
                update(subscribers)
                .where(subscribers.c.id == row[0])
                .values(status="active", updated_at=now)
            )
            return str(row[1])

    def all(self, email: str | None = None) -> list[Suppression]:
        """Every suppression (of ``email``, if given), newest first."""
        query = (
            select(suppressions, lists.c.name.label("list_name"))
            .outerjoin(lists, lists.c.id == suppressions.c.list_id)
            .order_by(suppressions.c.created_at.desc(), suppressions.c.id.desc())
        )
        if email is not None:
            query = query.where(suppressions.c.email == email.lower())
        with self.engine.connect() as conn:
            return [
                Suppression(
                    id=r["id"],
                    email=r["email"],
                    list_name=r["list_name"],
                    reason=r["reason"],
                    detail=r["detail"],
                    origin=r["origin"],
                    created_at=r["created_at"],
                )
                for r in conn.execute(query).mappings()
            ]
