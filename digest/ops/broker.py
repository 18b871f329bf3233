"""RabbitMQ as ops see it: does it answer, and how many chunks wait in the queue.

Through kombu (Celery's own transport library) so that ``/healthz`` and the metrics of
``digest serve`` need no Celery app: one short connection, a passive ``queue.declare`` (which
reads the counts without creating the queue), and a bounded timeout.
"""

from __future__ import annotations

from dataclasses import dataclass

from amqp.exceptions import NotFound
from kombu import Connection

from ..config.workers import shown

TIMEOUT = 2.0
"""Seconds to wait for RabbitMQ before reporting it unreachable."""


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """A queue's ready messages (chunks not yet taken) and consumers (worker processes)."""

    broker: str
    """The broker URL without its password."""
    queue: str
    messages: int | None
    consumers: int | None
    exists: bool
    error: str | None = None
    """Why the broker could not be asked (None: it answered)."""

    @property
    def reachable(self) -> bool:
        return self.error is None


def _problem(exc: BaseException) -> str:
    """One line about a broker failure, without the URL (and so without its password)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def queue_depth(url: str, queue: str, timeout: float = TIMEOUT) -> QueueDepth:
    """Ask RabbitMQ how many messages wait in ``queue``; never raises for a broker failure."""
    try:
        with Connection(url, connect_timeout=timeout) as conn:
            conn.connect()
            channel = conn.channel()
            try:
                declared = channel.queue_declare(queue=queue, passive=True)  # type: ignore[attr-defined]
                _, messages, consumers = declared
            except NotFound:  # no send and no worker has declared it yet
                return QueueDepth(shown(url), queue, 0, 0, False)
            return QueueDepth(shown(url), queue, int(messages), int(consumers), True)
    except Exception as exc:  # any failure of the broker or the network is reported, not raised
        return QueueDepth(shown(url), queue, None, None, False, _problem(exc))
