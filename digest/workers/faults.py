"""A fault hook for the fault tests: SIGKILL a worker at chosen points of chosen chunks.

``DIGEST_WORKER_FAULT="POINT@FIRST[:SCOPE],..."`` kills whichever worker sends the chunk that
starts at subscriber id FIRST, at POINT: ``claimed`` (its rows submitted, no request made),
``posted`` (the backend accepted the request, the outcome not yet recorded) or ``recorded``
(the outcome recorded, the task's message not yet acknowledged). SCOPE ``worker`` (default)
kills the whole worker, ``child`` only the pool process running the task. Each fault fires
once: the first process to create its marker file in ``DIGEST_WORKER_FAULT_DIR`` fires it.
Unset in production, where it does nothing.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..delivery.base import DeliveryBackend
from ..models import DeliveryResult, Envelope, Recipient

FAULT_ENV = "DIGEST_WORKER_FAULT"
FAULT_DIR_ENV = "DIGEST_WORKER_FAULT_DIR"
POINTS = ("claimed", "posted", "recorded")


@dataclass(frozen=True, slots=True)
class Fault:
    """Where to kill: a point of the chunk starting at ``first``, the worker or its pool."""

    point: str
    first: int
    scope: str = "worker"

    @classmethod
    def parse(cls, spec: str) -> Fault:
        where, _, scope = spec.partition(":")
        point, _, first = where.partition("@")
        if point not in POINTS or scope not in ("", "worker", "child"):
            raise ValueError(f"{FAULT_ENV}: bad fault {spec!r}; expected POINT@FIRST[:SCOPE]")
        return cls(point, int(first), scope or "worker")


class Faults:
    """The configured faults, and the chunk this process is sending."""

    def __init__(self, faults: Sequence[Fault], markers: Path | None):
        self.faults = tuple(faults)
        self.markers = markers
        self.first = 0

    @classmethod
    def from_env(cls) -> Faults:
        spec = os.environ.get(FAULT_ENV, "")
        markers = os.environ.get(FAULT_DIR_ENV)
        faults = [Fault.parse(s) for s in spec.split(",") if s]
        if faults and not markers:
            raise ValueError(f"{FAULT_ENV} needs {FAULT_DIR_ENV}, a folder for its markers")
        return cls(faults, Path(markers) if markers else None)

    def at(self, point: str) -> None:
        """Fire the fault set for this point of the current chunk, unless it already fired."""
        for fault in self.faults:
            if fault.point == point and fault.first == self.first and self._once(fault):
                if fault.scope == "worker" and os.getppid() != 1:
                    os.kill(os.getppid(), signal.SIGKILL)
                os.kill(os.getpid(), signal.SIGKILL)

    def _once(self, fault: Fault) -> bool:
        assert self.markers is not None
        marker = self.markers / f"{fault.point}@{fault.first}"
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return False
        return True


class FaultyBackend:
    """Wraps a backend to fire ``claimed`` before and ``posted`` after its requests."""

    def __init__(self, inner: DeliveryBackend, faults: Faults):
        self.inner = inner
        self.faults = faults
        self.name = inner.name
        self.max_batch = inner.max_batch
        self.idempotent = inner.idempotent
        self.workers = inner.workers
        self.max_per_second = inner.max_per_second
        self.retry_rounds = inner.retry_rounds
        self.retry_wait = inner.retry_wait

    def destination(self, envelope: Envelope) -> str | None:
        return self.inner.destination(envelope)

    def deliver(self, envelope: Envelope, recipients: Sequence[Recipient]) -> list[DeliveryResult]:
        self.faults.at("claimed")
        results = self.inner.deliver(envelope, recipients)
        self.faults.at("posted")
        return results

    def close(self) -> None:
        self.inner.close()
