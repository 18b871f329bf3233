"""The source protocol and what a source hands back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ..models import Post


@dataclass(frozen=True, slots=True)
class Problem:
    """One item a source skipped, and why; the rest of the source still counts."""

    source: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True, slots=True)
class SourceReport:
    """The outcome of reading one source once."""

    source: str
    posts: tuple[Post, ...] = ()
    problems: tuple[Problem, ...] = ()
    error: str | None = None
    """Set when the whole source failed; its posts are then empty."""
    not_modified: bool = False
    state: Mapping[str, str] = field(default_factory=dict)
    """Opaque per-source state to keep until the next run (e.g. ETag, Last-Modified)."""
    disabled: bool = False
    """Set when the source asked to be switched off for good (e.g. HTTP 410 Gone)."""
    fingerprints: Mapping[str, int | None] = field(default_factory=dict)
    """Near-duplicate fingerprints (``simhash``) already worked out, by post text: a post
    whose text is not here (none given, or changed since) is fingerprinted as it is stored."""


@runtime_checkable
class Source(Protocol):
    """Something that yields posts: a folder, a feed, a third party's API."""

    name: str

    def collect(self, state: Mapping[str, str]) -> SourceReport:
        """Read the source; never raise for a bad item, report it in ``problems`` instead."""
        ...
