"""Read subscriber roster files (CSV): validate each row, report bad ones by ``file:line``."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

from .errors import ConfigError, SubscriberError
from .models import Subscriber

COLUMNS = ("email", "name", "areas", "status", "subscribed_at", "source")
STATUSES = ("active", "unsubscribed", "bounced", "complained")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A spreadsheet reads a cell starting with one of these as a formula (CSV injection)."""


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A roster row that was skipped or merged, and why."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True, slots=True)
class Roster:
    """The valid subscribers of one file, and the problems met reading it."""

    path: Path
    subscribers: tuple[Subscriber, ...]
    problems: tuple[RowProblem, ...]


def normalize_email(address: str) -> str:
    """Validate syntax (no DNS) and return the normalized address; raise ValueError if bad."""
    try:
        info = validate_email(address.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    local, _, domain = info.normalized.rpartition("@")
    return f"{local}@{(info.ascii_domain or domain).lower()}"


def neutralize(cell: str) -> str:
    """``cell`` made safe for spreadsheets: a leading formula character gets a ``'``."""
    return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell


def _unneutralize(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS) else cell


def parse_subscribed_at(value: str) -> str:
    """An ISO date or date-time, returned as written; raise ValueError otherwise."""
    if value:
        try:
            date.fromisoformat(value)
        except ValueError:
            datetime.fromisoformat(value)
    return value


def read_roster(path: Path) -> Roster:
    """Read ``path``; raise SubscriberError only when the file itself is unusable."""
    try:
        raw = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(  # the config names a file that is not there
            "subscriber file not found", subject=str(path), hint="check [[lists]] subscribers"
        ) from None
    except UnicodeDecodeError as exc:
        raise SubscriberError(
            f"not UTF-8 (byte {exc.start})", subject=str(path), hint="save the file as UTF-8"
        ) from None
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            raw.split("\n", 1)[0], delimiters=",;\t"
        )
    except csv.Error:
        dialect = csv.excel
    # Only the delimiter is sniffed: quoting stays Excel's ("" inside a quoted cell is a ").
    reader = csv.DictReader(
        io.StringIO(raw, newline=""), dialect=csv.excel, delimiter=dialect.delimiter
    )
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if "email" not in header:
        raise SubscriberError(
            "the header row has no 'email' column",
            subject=f"{path}:1",
            hint=f"columns: {', '.join(COLUMNS)}",
        )
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise SubscriberError(
            f"unknown column {unknown[0]!r}",
            subject=f"{path}:1",
            hint=f"columns: {', '.join(COLUMNS)}",
        )
    reader.fieldnames = header
    subs: dict[str, Subscriber] = {}
    problems: list[RowProblem] = []
    for row in reader:
        line = reader.line_num
        where = f"{path}:{line}"
        if None in row:
            problems.append(RowProblem(where, "more cells than header columns; row skipped"))
            continue
        cells = {k: _unneutralize((v or "").strip()) for k, v in row.items()}
        if not any(cells.values()):
            continue
        try:
            email = normalize_email(cells.get("email", ""))
        except ValueError as exc:
            problems.append(RowProblem(where, f"invalid email {cells.get('email')!r}: {exc}"))
            continue
        status = (cells.get("status") or "active").lower()
        if status not in STATUSES:
            problems.append(
                RowProblem(where, f"status {status!r} is not one of {', '.join(STATUSES)}")
            )
            continue
        areas = tuple(a.strip() for a in cells.get("areas", "").split(";") if a.strip())
        try:
            subscribed_at = parse_subscribed_at(cells.get("subscribed_at", ""))
        except ValueError:
            bad = cells["subscribed_at"]
            problems.append(RowProblem(where, f"subscribed_at {bad!r} is not a date; ignored"))
            subscribed_at = ""
        sub = Subscriber(
            email=email,
            name=cells.get("name", ""),
            areas=areas,
            status=status,
            line=line,
            subscribed_at=subscribed_at,
            source=cells.get("source", ""),
        )
        if email in subs:
            problems.append(
                RowProblem(where, f"duplicate of line {subs[email].line} ({email}); merged")
            )
        subs[email] = sub
    return Roster(path, tuple(subs.values()), tuple(problems))
