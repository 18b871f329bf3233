"""The ``outbox`` backend: one ``.eml`` file per recipient under ``<path>/<list>/<issue>/``.

Test sends go to ``<path>/<list>/tests/<issue>/``, apart from the issue's real messages.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DeliveryError
from ..models import DeliveryResult, Envelope, Recipient
from ..private_files import private_dir, write_private
from .message import build_message, message_id
from .reasons import INVALID

if TYPE_CHECKING:
    from ..config import Settings

_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]+")


@dataclass(frozen=True)
class OutboxOptions:
    """Options of the outbox backend."""

    path: Path = Path("outbox")


class OutboxBackend:
    """Writes messages to files; rewriting the same file cannot duplicate a delivery."""

    name = "outbox"
    max_batch = 500
    idempotent = True
    workers = 1
    max_per_second = 0.0
    retry_rounds = 0
    retry_wait = 1.0

    def __init__(self, path: Path):
        self.path = path

    def folder(self, envelope: Envelope) -> Path:
        """Where ``envelope``'s messages go (test sends have a folder of their own)."""
        if envelope.is_test:
            return self.path / envelope.list_name / "tests" / envelope.issue_key
        return self.path / envelope.list_name / envelope.issue_key

    def destination(self, envelope: Envelope) -> str:
        return str(self.folder(envelope))

    def deliver(self, envelope: Envelope, recipients: Sequence[Recipient]) -> list[DeliveryResult]:
        folder = self.folder(envelope)
        try:
            private_dir(folder)  # messages carry addresses and live unsubscribe tokens
        except OSError as exc:
            raise DeliveryError(
                f"cannot create outbox: {exc.strerror}", subject=str(folder)
            ) from None
        results = []
        for rcpt in recipients:
            target = folder / f"{rcpt.subscriber_id:07d}-{_UNSAFE.sub('_', rcpt.email)}.eml"
            tmp = target.with_suffix(".tmp")
            try:
                data = build_message(envelope, rcpt).as_bytes()
            except (ValueError, TypeError, UnicodeError) as exc:  # a bad row fails alone
                error = f"{INVALID}: {exc}"
                results.append(DeliveryResult(rcpt.subscriber_id, "failed", error=error))
                continue
            try:
                write_private(tmp, data)
                os.replace(tmp, target)
            except OSError as exc:
                results.append(DeliveryResult(rcpt.subscriber_id, "failed", error=str(exc)))
                continue
            results.append(
                DeliveryResult(rcpt.subscriber_id, "accepted", message_id(envelope, rcpt))
            )
        return results

    def close(self) -> None:
        """Nothing to release."""


def make_outbox(settings: Settings) -> OutboxBackend:
    """Factory registered for ``backend = "outbox"``."""
    options: OutboxOptions = settings.delivery.options("outbox")
    return OutboxBackend(options.path)
