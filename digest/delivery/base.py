"""The delivery backend protocol."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ..errors import DeliveryError
from ..models import DeliveryResult, Envelope, Recipient


@runtime_checkable
class DeliveryBackend(Protocol):
    """Sends one envelope to a batch of recipients and says what happened to each.

    A backend may also have ``workers`` (chunks in flight at once, default 1), ``max_per_second``
    (a cap on messages per second, default none) and ``retry_rounds`` (passes over recipients it
    sent back with ``retry``); the sender reads them with ``getattr``.
    """

    name: str
    max_batch: int
    """How many recipients one ``deliver`` call may take (SendGrid: 1000)."""
    idempotent: bool
    """True when resending a submitted-but-unconfirmed batch cannot make a duplicate."""

    def deliver(self, envelope: Envelope, recipients: Sequence[Recipient]) -> list[DeliveryResult]:
        """Deliver; report each recipient ``accepted``, ``failed``, ``retry`` or ``unknown``.

        Must be safe to call from several threads at once when ``workers`` > 1.
        """
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class SendAborted(DeliveryError):
    """A chunk failed in a way every later chunk would too (a bad key): stop the send."""

    def __init__(self, message: str, results: list[DeliveryResult], *, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.results = results
