"""Sending through the real outbox backend: exactly once, resumable, suppressions honoured."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.config.load import load_settings
from digest.delivery.outbox import OutboxBackend
from digest.models import DeliveryResult, Envelope, Recipient
from digest.pipeline import Pipeline

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


class CrashAfter(OutboxBackend):
    """The real outbox, which dies (like a killed process) after ``limit`` messages."""

    max_batch = 2

    def __init__(self, path: Path, limit: int):
        super().__init__(path)
        self.limit = limit

    def deliver(self, envelope: Envelope, recipients: Sequence[Recipient]) -> list[DeliveryResult]:
        if self.limit <= 0:
            raise KeyboardInterrupt("simulated crash")
        self.limit -= len(recipients)
        return super().deliver(envelope, recipients)


def pipeline(project: Path) -> Pipeline:
    return Pipeline(load_settings(project / "config.toml"), clock=lambda: NOW)


def crash_midway(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Collect, then send until the backend dies after two messages."""
    p = pipeline(project)
    p.collect()
    crashing = CrashAfter(project / "outbox", limit=2)
    monkeypatch.setattr(p, "backend", lambda name=None: crashing)
    with pytest.raises(KeyboardInterrupt):
        p.send("weekly")


def eml_files(project: Path) -> list[Path]:
    return sorted((project / "outbox").glob("weekly/*/*.eml"))


def test_crash_then_resume_delivers_everyone_exactly_once(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crash_midway(project, monkeypatch)
    assert len(eml_files(project)) == 2
    resumed = pipeline(project)
    report = resumed.send("weekly")
    assert report.outcome == "sent"
    assert report.counts == {"accepted": 6}
    files = eml_files(project)
    assert len(files) == 6 and len({f.name for f in files}) == 6
    assert resumed.send("weekly").outcome == "already-sent"


def test_unsubscribe_during_send_is_honoured(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crash_midway(project, monkeypatch)
    resumed = pipeline(project)
    lid = resumed.store.subscribers.list_id("weekly")
    last = list(resumed.store.subscribers.active(lid))[-1]
    resumed.store.subscribers.set_status(last.id or 0, "unsubscribed", NOW)
    report = resumed.send("weekly")
    assert report.counts == {"accepted": 5, "suppressed": 1}
    assert all(last.email not in f.name for f in eml_files(project))


def test_no_posts_means_no_email(project: Path) -> None:
    p = pipeline(project)
    assert p.send("weekly").outcome == "no-posts"
    assert not (project / "outbox").exists()
