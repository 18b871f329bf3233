"""The delivery backend protocol."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ..errors import ConfigError
from ..models import DeliveryResult, Envelope, Recipient


@runtime_checkable
class DeliveryBackend(Protocol):
    """Sends one envelope to a batch of recipients and says what happened to each.

    A backend may also have ``workers`` (chunks in flight at once, default 1), ``max_per_second``
    (a cap on messages per second, default none) and ``retry_rounds`` (passes over recipients it
    sent back with ``retry``); the sender reads them with ``getattr``. One that sends a message
    at a time has ``deliver_each(envelope, recipients, step)``, and calls ``step(done, next_id)``
    before each message so each outcome is recorded as it comes (see ``LedgerRepo.step``).
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


class SendAborted(ConfigError):
    """The backend refused us as it would refuse every later chunk (a bad key, credentials,
    TLS): a configuration error that stops the send. ``results`` hold what happened before;
    recipients not yet sent come back as ``retry`` (planned again), never ``failed``."""

    def __init__(
        self,
        message: str,
        results: list[DeliveryResult],
        *,
        subject: str | None = None,
        hint: str | None = None,
    ):
        super().__init__(message, subject=subject, hint=hint)
        self.results = results
