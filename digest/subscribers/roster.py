"""Read subscriber roster files (CSV): validate each row, report bad ones by ``file:line``."""

from __future__ import annotations

import csv
import functools
import re
import sys
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import TextIO

from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import ATEXT, CASE_INSENSITIVE_MAILBOX_NAMES, EMAIL_MAX_LENGTH

from ..errors import ConfigError, SubscriberError
from ..models import Subscriber
from ..taxonomy import Taxonomy, area_key
from ..waves.zones import check_zone

COLUMNS = ("email", "name", "areas", "status", "subscribed_at", "source", "timezone")
STATUSES = ("active", "unsubscribed", "bounced", "complained")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A spreadsheet reads a cell starting with one of these as a formula (CSV injection)."""
MAX_NAME = 200
"""Characters of a subscriber's name; it goes into every message's ``To:`` header."""
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_MAILBOX_BREAKERS = frozenset("\r\n,;<>")


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A roster row that was skipped or merged, and why."""

    where: str
    message: str
    skipped: bool = False
    """True when the row was left out; otherwise it was imported as the message says."""

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True, slots=True)
class Roster:
    """The valid subscribers of one file, and the problems met reading it."""

    path: Path
    subscribers: tuple[Subscriber, ...]
    problems: tuple[RowProblem, ...]


def normalize_email(address: str) -> str:
    """Validate syntax (no DNS) and return the normalized address; raise ValueError if bad.

    One mailbox only: CR, LF, commas, semicolons and angle brackets could add recipients or
    headers, and are refused by name before the validator's own checks.
    """
    breakers = sorted(_MAILBOX_BREAKERS & set(address.strip()))
    if breakers:
        shown = ", ".join(_char(c) for c in breakers)
        raise ValueError(f"contains {shown}; an address must be one mailbox")
    address = address.strip()
    return _plain(address) or _validated(address)


def _validated(address: str) -> str:
    """The address as email-validator normalizes it (its domain in IDNA ASCII, lowercase)."""
    try:
        info = validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    local, _, domain = info.normalized.rpartition("@")
    return f"{local}@{(info.ascii_domain or domain).lower()}"


_PLAIN = re.compile(rf"([{ATEXT}]+(?:\.[{ATEXT}]+)*)@([A-Za-z0-9.-]+)\Z")


def _plain(address: str) -> str | None:
    """``_validated(address)`` for a plain ASCII address (dot-atom, host name), or None.

    Nearly every address in a roster is one; email-validator spends most of a roster's read
    on the domain, which a roster repeats, so the domain is validated once (``_domain``) and
    anything else (Unicode, quoting, a reserved mailbox name, a bad domain) goes to the
    validator whole, for its own message. ``tests/test_roster.py`` holds the two equal.
    """
    match = _PLAIN.match(address)
    if match is None or len(address) > EMAIL_MAX_LENGTH:
        return None
    local, domain = match.groups()
    if local.lower() in CASE_INSENSITIVE_MAILBOX_NAMES:
        return None
    ascii_domain = _domain(domain)
    return None if ascii_domain is None else f"{local}@{ascii_domain}"


@functools.lru_cache(maxsize=4096)
def _domain(domain: str) -> str | None:
    """The domain as ``_validated`` writes it, or None if the validator refuses it."""
    try:
        return _validated(f"a@{domain}").partition("@")[2]
    except ValueError:
        return None


_CONTROL_NAMES = {"\n": "LF", "\r": "CR", "\t": "TAB", "\x00": "NUL", "\x85": "NEL"}


def _char(c: str) -> str:
    if c.isprintable():
        return repr(c)
    name = _CONTROL_NAMES.get(c) or unicodedata.name(c, "")
    return f"U+{ord(c):04X} {name}".rstrip()


def check_text(value: str, field: str, limit: int | None = None) -> str:
    """``value`` if it can go into a header or a page as is; raise ValueError naming why not.

    Line breaks would split a header (a ``To:`` display name with CR/LF makes sending fail
    or adds headers); other control and bidi-override characters hide or disguise text.
    """
    for c in value:
        if unicodedata.category(c) in ("Cc", "Zl", "Zp") or c in _BIDI_CONTROLS:
            kind = "a line break" if c in "\r\n\u2028\u2029\x85" else "a control character"
            raise ValueError(f"{field}: contains {kind} ({_char(c)})")
    if limit is not None and len(value) > limit:
        raise ValueError(f"{field}: {len(value)} characters; at most {limit}")
    return value


def check_areas(areas: Iterable[str], taxonomy: Taxonomy | None) -> tuple[tuple[str, ...], str]:
    """The areas the taxonomy knows, and what is wrong with the others ('' if nothing).

    Every unknown area gets the nearest known spelling as a suggestion. Without a taxonomy
    (or one without areas) every area is accepted.
    """
    areas = tuple(areas)
    if taxonomy is None or not taxonomy.names:
        return areas, ""
    catch_all = area_key(taxonomy.catch_all)
    known = tuple(a for a in areas if taxonomy.is_known(a) or area_key(a) == catch_all)
    unknown = [a for a in areas if a not in known]
    if not unknown:
        return known, ""
    described = []
    for area in unknown:
        near = taxonomy.suggest(area)
        described.append(f"{area!r}" + (f" (did you mean {near!r}?)" if near else ""))
    plural = "s" if len(unknown) > 1 else ""
    return known, f"unknown area{plural} {', '.join(described)}"


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


def read_roster(path: Path, taxonomy: Taxonomy | None = None) -> Roster:
    """Read ``path``; raise SubscriberError only when the file itself is unusable.

    Each row with a problem is reported once, by the line it starts on: bad rows are skipped,
    unknown areas are left out of a row that is otherwise imported (checked against
    ``taxonomy`` when given), and a repeated address keeps its first row.
    """
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            return _read(path, file, taxonomy)
    except FileNotFoundError:
        raise ConfigError(  # the config names a file that is not there
            "subscriber file not found", subject=str(path), hint="check [[lists]] subscribers"
        ) from None
    except UnicodeDecodeError:  # read as it streams: find the byte for the message
        try:
            path.read_bytes().decode("utf-8-sig")
            start = 0
        except UnicodeDecodeError as exc:
            start = exc.start
        raise SubscriberError(
            f"not UTF-8 (byte {start})", subject=str(path), hint="save the file as UTF-8"
        ) from None


def _read(path: Path, file: TextIO, taxonomy: Taxonomy | None) -> Roster:
    """The roster in ``file``, read a row at a time: a list of millions is never one string."""
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            file.readline(), delimiters=",;\t"
        )
    except csv.Error:
        dialect = csv.excel
    file.seek(0)
    # Only the delimiter is sniffed: quoting stays Excel's ("" inside a quoted cell is a ").
    reader = csv.reader(file, dialect=csv.excel, delimiter=dialect.delimiter)
    header = [h.strip().lower() for h in next(reader, [])]
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
    subs: dict[str, Subscriber] = {}
    problems: list[RowProblem] = []
    end = reader.line_num
    for record in reader:
        line, end = end + 1, reader.line_num  # a quoted cell may span lines: report the first
        if len(record) > len(header):
            problems.append(
                RowProblem(f"{path}:{line}", "more cells than header columns; row skipped", True)
            )
            continue
        cells = {h: _unneutralize(c.strip()) for h, c in zip(header, record, strict=False)}
        if not any(cells.values()):
            continue
        row = _row(cells, line, taxonomy)
        if isinstance(row, RowProblem):
            problems.append(replace(row, where=f"{path}:{line}"))
            continue
        sub, notes = row
        first = subs.get(sub.email)
        if first is not None:
            merged, note = _merge(first, sub)
            subs[sub.email] = merged
            notes.append(note)
        else:
            subs[sub.email] = sub
        if notes:
            problems.append(RowProblem(f"{path}:{line}", "; ".join(notes)))
    return Roster(path, tuple(subs.values()), tuple(problems))


def _row(
    cells: dict[str, str], line: int, taxonomy: Taxonomy | None
) -> tuple[Subscriber, list[str]] | RowProblem:
    """One row as a subscriber and notes on what was left out, or why it is skipped."""
    raw_email = cells.get("email", "")
    try:
        email = normalize_email(raw_email)
    except ValueError as exc:
        shown = raw_email if raw_email.isprintable() else ascii(raw_email)
        why = str(exc).rstrip(".")
        return RowProblem("", f"invalid email {shown!r}: {why}; row skipped", True)
    status = (cells.get("status") or "active").lower()
    if status not in STATUSES:
        return RowProblem(
            "", f"status {status!r} is not one of {', '.join(STATUSES)}; row skipped", True
        )
    try:
        name = check_text(cells.get("name", ""), "name", MAX_NAME)
        source = check_text(cells.get("source", ""), "source", MAX_NAME)
        listed = check_text(cells.get("areas", ""), "areas")
    except ValueError as exc:
        return RowProblem("", f"{exc}; row skipped", True)
    notes: list[str] = []
    areas, wrong = check_areas((a.strip() for a in listed.split(";") if a.strip()), taxonomy)
    if wrong:
        gets = " (with no known area left, this reader gets every section)" if not areas else ""
        them = "them" if wrong.startswith("unknown areas") else "it"
        notes.append(f"areas: {wrong}; imported without {them}{gets}")
    try:
        subscribed_at = parse_subscribed_at(cells.get("subscribed_at", ""))
    except ValueError:
        notes.append(f"subscribed_at {cells['subscribed_at']!r} is not a date; ignored")
        subscribed_at = ""
    zone: str | None = cells.get("timezone", "") or None
    if zone is not None:
        try:
            check_zone(zone)
        except ValueError as exc:
            notes.append(f"timezone: {exc}; imported without it (the list's zone applies)")
            zone = None
    sub = Subscriber(  # cells that repeat down a roster are kept once: memory at millions
        email=email,
        name=name,
        areas=areas,
        status=sys.intern(status),
        line=line,
        subscribed_at=sys.intern(subscribed_at),
        source=sys.intern(source),
        timezone=None if zone is None else sys.intern(zone),
    )
    return sub, notes


def _merge(first: Subscriber, later: Subscriber) -> tuple[Subscriber, str]:
    """The first row of an address, given the earliest subscribed_at and any opt-out of a
    later one (an unsubscribe added further down is never lost), and what was done."""
    taken: list[str] = []
    merged = first
    if later.subscribed_at and (
        not first.subscribed_at or later.subscribed_at < first.subscribed_at
    ):
        merged = replace(merged, subscribed_at=later.subscribed_at)
        taken.append(f"its earlier subscribed_at {later.subscribed_at}")
    if first.status == "active" and later.status != "active":
        merged = replace(merged, status=later.status)
        taken.append(f"its status {later.status!r}")
    also = f", taking {' and '.join(taken)}" if taken else ""
    return merged, f"duplicates line {first.line} ({first.email}): kept line {first.line}{also}"
