"""What each phase reports back: collecting, sending one list, and a whole run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .errors import ClaimHeldError
    from .sources.base import Problem
    from .store.decisions import UnknownChunk, UnknownRecipient
    from .subscribers.roster import RowProblem


@dataclass(frozen=True, slots=True)
class SourceOutcome:
    """What collecting one source did."""

    source: str
    fetched: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicate: int = 0
    problems: tuple[Problem, ...] = ()
    error: str | None = None
    not_modified: bool = False
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class CollectReport:
    """What collecting every source did."""

    outcomes: tuple[SourceOutcome, ...] = field(default_factory=tuple)
    seconds: float = 0.0
    """How long reading and storing every source took (wall clock)."""

    @property
    def failed(self) -> list[SourceOutcome]:
        return [o for o in self.outcomes if o.error]

    @property
    def skipped(self) -> list[SourceOutcome]:
        """Sources that were read but skipped some of their items."""
        return [o for o in self.outcomes if o.problems and not o.error]

    @property
    def all_failed(self) -> bool:
        return bool(self.outcomes) and len(self.failed) == len(self.outcomes)

    @property
    def new(self) -> int:
        return sum(o.new for o in self.outcomes)


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a delivery has got: recipients handled of the total, and the tally so far."""

    total: int
    done: int
    counts: dict[str, int]


ProgressFn = Callable[[Progress], None]


@dataclass(frozen=True, slots=True)
class SendReport:
    """What sending one list's issue did."""

    list_name: str
    outcome: str
    """``sent``, ``already-sent``, ``no-posts``, ``dry-run``, ``incomplete``, ``unknown``, or
    ``test`` (a test send outside the ledger)."""
    issue_number: int | None = None
    issue_key: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    recipients: int = 0
    roster_problems: tuple[RowProblem, ...] = ()
    destination: str | None = None
    failures: tuple[tuple[str, int], ...] = ()
    """Each distinct failure reason and how many recipients it hit."""
    unknown: tuple[UnknownChunk, ...] = ()
    """Chunks that may or may not have gone out, waiting for ``--resolve-unknown``."""
    unknown_recipients: tuple[UnknownRecipient, ...] = ()
    """The same, one entry per recipient."""


@dataclass(frozen=True, slots=True)
class RunReport:
    """What one ``digest run`` did."""

    collected: CollectReport
    sends: tuple[SendReport, ...]
    busy: tuple[ClaimHeldError, ...] = ()
    """Lists whose period another live process was sending: nothing sent for them here."""
