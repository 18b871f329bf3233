"""The delivery backend protocol."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ..models import DeliveryResult, Envelope, Recipient


@runtime_checkable
class DeliveryBackend(Protocol):
    """Sends one envelope to a batch of recipients and says what happened to each."""

    name: str
    max_batch: int
    """How many recipients one ``deliver`` call may take (SendGrid: 1000)."""
    idempotent: bool
    """True when resending a submitted-but-unconfirmed batch cannot make a duplicate."""

    def deliver(self, envelope: Envelope, recipients: Sequence[Recipient]) -> list[DeliveryResult]:
        """Deliver; report each recipient ``accepted``, ``failed``, ``retry`` or ``unknown``."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
