"""The delivery backend protocol."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from ..errors import ConfigError
from ..models import DeliveryResult, Envelope, Recipient


class DeliveryBackend(Protocol):
    """Sends one envelope to a batch of recipients and says what happened to each.

    Everything the sender reads of a backend is here, so mypy checks a third-party backend in
    full. A backend that sends one message at a time is also a ``PerMessageBackend``.
    """

    name: str
    max_batch: int
    """How many recipients one ``deliver`` call may take (SendGrid: 1000)."""
    idempotent: bool
    """True when resending a submitted-but-unconfirmed batch cannot make a duplicate."""
    workers: int
    """Chunks in flight at once (1: one after another)."""
    max_per_second: float
    """A cap on messages per second; 0 for none."""
    retry_rounds: int
    """Passes over the recipients ``deliver`` sent back with ``retry``."""
    retry_wait: float
    """Seconds before the first retry pass; each later pass waits twice as long (at most 60)."""

    def deliver(self, envelope: Envelope, recipients: Sequence[Recipient]) -> list[DeliveryResult]:
        """Deliver; report each recipient ``accepted``, ``failed``, ``retry`` or ``unknown``.

        Must be safe to call from several threads at once when ``workers`` > 1.
        """
        ...

    def destination(self, envelope: Envelope) -> str | None:
        """Where ``envelope``'s messages end up, when the backend can say (the outbox's folder)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


Step = Callable[[DeliveryResult | None, int | None], None]
"""``step(done, next_id)``: record one message's outcome and submit the next recipient."""


@runtime_checkable
class PerMessageBackend(DeliveryBackend, Protocol):
    """A backend that sends one message at a time, so each outcome is recorded as it comes."""

    def deliver_each(
        self, envelope: Envelope, recipients: Sequence[Recipient], step: Step
    ) -> list[DeliveryResult]:
        """Like ``deliver``, calling ``step(done, next_id)`` before each message (see
        ``LedgerRepo.step``)."""
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
