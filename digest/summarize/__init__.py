"""Offline summarization: the Summarizer protocol and the embedded extractive summarizer."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from digest.summarize.boilerplate import is_boilerplate, strip_dateline
from digest.summarize.extractive import ExtractiveSummarizer
from digest.summarize.splitter import split_sentences

__all__ = [
    "ExtractiveSummarizer",
    "Summarizer",
    "is_boilerplate",
    "split_sentences",
    "strip_dateline",
]


@runtime_checkable
class Summarizer(Protocol):
    """Anything that turns an article's plain text (and optional title) into a short summary."""

    def summarize(self, text: str, title: str | None = None) -> str:
        """Summary of text; "" when there is nothing to summarize."""
        ...
