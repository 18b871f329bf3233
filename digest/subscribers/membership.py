"""List membership for operators: sync a roster, add, import, export, and count subscribers."""

from __future__ import annotations

import csv
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TextIO

from ..config import Settings
from ..errors import SubscriberError
from ..models import Subscriber
from ..private_files import private_dir, write_private
from ..store import Store
from ..store.subscribers import SUPPRESSED, SubscriberRow, SyncCounts
from ..taxonomy import Taxonomy
from ..waves.zones import check_zone
from .roster import (
    COLUMNS,
    MAX_NAME,
    RowProblem,
    check_areas,
    check_text,
    neutralize,
    normalize_email,
    read_roster,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Synced:
    """A list after its roster was synced in."""

    list_id: int
    counts: SyncCounts
    problems: tuple[RowProblem, ...]


@dataclass(slots=True)
class ImportReport:
    """What ``subscribers import`` did."""

    appended: list[str] = field(default_factory=list)
    already: int = 0
    resubscribed: list[tuple[str, str]] = field(default_factory=list)
    kept_suppressed: list[tuple[str, str]] = field(default_factory=list)
    problems: tuple[RowProblem, ...] = ()
    """The imported file's rows that were skipped or changed."""
    roster_problems: tuple[RowProblem, ...] = ()
    """The list's own roster file's, met while syncing it."""

    @property
    def skipped(self) -> int:
        return sum(1 for p in self.problems if p.skipped)


def sync_list(settings: Settings, store: Store, list_name: str, now: datetime) -> Synced:
    """Bring the list's roster file into the store; the caller reports the problem rows."""
    lst = settings.list(list_name)
    roster = read_roster(lst.subscribers, Taxonomy(settings.taxonomy))
    list_id = store.subscribers.list_id(lst.name)
    return Synced(
        list_id, store.subscribers.sync(list_id, roster.subscribers, now), roster.problems
    )


def _cells(sub: Subscriber) -> dict[str, str]:
    return {
        "email": sub.email,
        "name": sub.name,
        "areas": ";".join(sub.areas),
        "status": sub.status,
        "subscribed_at": sub.subscribed_at,
        "source": sub.source,
        "timezone": sub.timezone or "",
    }


def append_to_roster(path: Path, subs: Sequence[Subscriber]) -> None:
    """Append rows to a roster file in its own delimiter and columns (made formula-safe)."""
    if not subs:
        return
    if not path.exists():
        private_dir(path.parent)
        write_private(path, (",".join(COLUMNS) + "\n").encode())
    raw = path.read_bytes().decode("utf-8-sig")
    first = raw.split("\n", 1)[0]
    try:
        delimiter = csv.Sniffer().sniff(first, delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    header = [h.strip().lower() for h in next(csv.reader([first], delimiter=delimiter))]
    newline = "\r\n" if "\r\n" in raw else "\n"
    if any(sub.timezone for sub in subs) and "timezone" not in header:
        # a new column at the end of the header only: shorter rows read as empty there
        rest = raw.split("\n", 1)[1] if "\n" in raw else ""
        head = first.rstrip("\r") + f"{delimiter}timezone" + ("\r" if first.endswith("\r") else "")
        write_private(path, (head + "\n" + rest).encode())
        header.append("timezone")
        raw = path.read_bytes().decode("utf-8")
    with path.open("a", encoding="utf-8", newline="") as f:
        if raw and not raw.endswith("\n"):
            f.write(newline)
        writer = csv.writer(f, delimiter=delimiter, lineterminator=newline)
        for sub in subs:
            cells = _cells(sub)
            writer.writerow([neutralize(cells.get(h, "")) for h in header])


def add(
    settings: Settings,
    store: Store,
    list_name: str,
    sub: Subscriber,
    now: datetime,
    *,
    resubscribe: bool = False,
) -> tuple[str, tuple[RowProblem, ...]]:
    """Add one subscriber to the list's roster file and the store.

    Returns what happened and the roster's problem rows. A name with control characters or
    an area the taxonomy does not know is refused, nothing written.
    """
    lst = settings.list(list_name)
    email = normalize_email(sub.email)
    try:
        check_text(sub.name, "name", MAX_NAME)
        check_text(sub.source, "source", MAX_NAME)
        for area in sub.areas:
            check_text(area, "areas")
    except ValueError as exc:
        raise SubscriberError(str(exc), subject=email) from None
    _, wrong = check_areas(sub.areas, Taxonomy(settings.taxonomy))
    if wrong:
        raise SubscriberError(
            f"--areas: {wrong}",
            subject=email,
            hint="use an area's name or alias from the config's taxonomy; nothing was added",
        )
    if sub.timezone is not None:
        try:
            check_zone(sub.timezone)
        except ValueError as exc:
            raise SubscriberError(
                f"--timezone: {exc}", subject=email, hint="use an IANA name; nothing was added"
            ) from None
    listed = {s.email: s for s in read_roster(lst.subscribers).subscribers}
    if email not in listed:
        append_to_roster(lst.subscribers, [replace(sub, email=email)])
    synced = sync_list(settings, store, list_name, now)
    row = store.subscribers.find(synced.list_id, email)
    assert row is not None
    if row.status in SUPPRESSED:
        if not resubscribe:
            raise SubscriberError(
                f"{email} is {row.status} on {list_name}",
                subject=email,
                hint="pass --resubscribe if they asked to come back",
            )
        what = _resubscribe(store, synced.list_id, list_name, email, lst.subscribers, now)
        return what, synced.problems
    return ("already on the list" if email in listed else "added"), synced.problems


def _resubscribe(
    store: Store, list_id: int, list_name: str, email: str, roster: Path, now: datetime
) -> str:
    in_file = {s.email: s for s in read_roster(roster).subscribers}.get(email)
    if in_file is not None and in_file.status != "active":
        raise SubscriberError(
            f"the roster file says {email} is {in_file.status}",
            subject=f"{roster}:{in_file.line}",
            hint="set the row's status to active first",
        )
    was = store.suppressions.resubscribe(list_id, email, now)
    log.warning("resubscribed %s to %s (was %s) on an operator's request", email, list_name, was)
    return f"resubscribed (was {was})"


def import_file(
    settings: Settings,
    store: Store,
    list_name: str,
    file: Path,
    now: datetime,
    *,
    resubscribe: bool = False,
) -> ImportReport:
    """Merge ``file``'s new rows into the list's roster, sync, and resubscribe only if asked."""
    lst = settings.list(list_name)
    incoming = read_roster(file, Taxonomy(settings.taxonomy))
    report = ImportReport(problems=incoming.problems)
    listed = {s.email for s in read_roster(lst.subscribers).subscribers}
    new = [s for s in incoming.subscribers if s.email not in listed]
    append_to_roster(lst.subscribers, new)
    report.appended = [s.email for s in new]
    report.already = len(incoming.subscribers) - len(new)
    synced = sync_list(settings, store, list_name, now)
    report.roster_problems = synced.problems
    for sub in incoming.subscribers:
        row = store.subscribers.find(synced.list_id, sub.email)
        if sub.status != "active" or row is None or row.status not in SUPPRESSED:
            continue
        if not resubscribe:
            report.kept_suppressed.append((sub.email, row.status))
            continue
        try:
            _resubscribe(store, synced.list_id, list_name, sub.email, lst.subscribers, now)
            report.resubscribed.append((sub.email, row.status))
        except SubscriberError:
            report.kept_suppressed.append((sub.email, row.status))
    return report


def export_csv(rows: Iterable[SubscriberRow], out: TextIO) -> int:
    """Write roster rows (the store's truth) as CSV, every cell formula-safe; returns the count."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    n = 0
    for r in rows:
        cells = [
            r.email, r.name, ";".join(r.areas), r.status, r.subscribed_at, r.source,
            r.timezone or "",
        ]  # fmt: skip
        writer.writerow([neutralize(c) for c in cells])
        n += 1
    return n


def stats(store: Store, list_id: int) -> dict[str, int]:
    """Subscribers by status, those removed from the roster, and the latest issue's engagement."""
    rows = store.subscribers.rows(list_id)
    counts: Counter[str] = Counter(r.status for r in rows if r.in_roster)
    out = {s: counts.get(s, 0) for s in ("active", *SUPPRESSED)}
    out["removed"] = sum(1 for r in rows if not r.in_roster)
    latest = store.issues.latest(list_id)
    if latest is not None:
        out["latest_issue"] = latest.number
        out.update(store.events.issue_totals(latest.id))
    return out
