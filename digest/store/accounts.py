"""An issue's account from its ledger: the outcome its counts make, and the send report."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from ..models import IssueRow
from ..reports import SendReport
from .db import Store
from .ledger_sql import CLAIMED, FAILED, PLANNED, SUBMITTED, UNKNOWN, WAITING


def outcome_of(counts: dict[str, int]) -> str:
    """``incomplete`` while rows wait to be sent, ``unknown`` while ops must decide, else sent."""
    if any(counts.get(s) for s in (PLANNED, CLAIMED, SUBMITTED, WAITING)):
        return "incomplete"
    return "unknown" if counts.get(UNKNOWN) else "sent"


def ledger_report(
    store: Store, issue: IssueRow, list_name: str, waves: Collection[datetime] | None = None
) -> SendReport:
    """The ledger's account of an issue (of ``waves`` of it): counts, failure reasons, unknown
    chunks."""
    counts = store.issues.counts(issue.id, waves)
    unknown = tuple(store.issues.unknown_recipients(issue.id)) if counts.get(UNKNOWN) else ()
    return SendReport(
        list_name,
        outcome_of(counts),
        issue_number=issue.number,
        issue_key=issue.key,
        counts=counts,
        recipients=sum(counts.values()),
        failures=tuple(store.issues.reasons(issue.id, FAILED)) if counts.get(FAILED) else (),
        unknown=tuple(store.issues.unknown(issue.id)) if unknown else (),
        unknown_recipients=unknown,
    )
