"""``[workers]``: the Celery broker settings, checked so that only RabbitMQ (AMQP) is used."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from ..errors import ConfigError
from ..periods import parse_duration


@dataclass(frozen=True)
class WorkersSettings:
    """``[workers]``: send chunks through Celery workers on RabbitMQ instead of in-process."""

    broker: str = ""
    """The RabbitMQ URL (``amqp://user:password@host:5672/vhost``); empty: send in-process."""
    broker_env: str | None = None
    """The NAME of an environment variable holding the broker URL; wins over ``broker``."""
    queue: str = "digest"
    """The queue chunks are sent through: one per deployment."""
    chunk_lease: str = "2m"
    """How long a chunk in hand may go without a ledger write before a redelivery decides it."""
    stall: str = "10m"
    """``digest send`` gives up waiting when no chunk has finished for this long."""
    metrics_port: int = 0
    """Port of each ``digest worker``'s Prometheus endpoint (0: none); ``--metrics-port`` wins."""
    metrics_host: str = "127.0.0.1"
    """Address that endpoint binds."""

    def validate(self) -> None:
        if self.broker:
            check_broker(self.broker, "broker")
        if not _QUEUE.fullmatch(self.queue):
            raise ValueError(
                f"queue: expected at most 200 letters, digits, '.', '-' or '_', got {self.queue!r}"
            )
        if not 0 <= self.metrics_port < 65536:
            raise ValueError(f"metrics_port: expected 0 (off) or 1-65535, got {self.metrics_port}")
        for key in ("chunk_lease", "stall"):
            try:
                seconds = parse_duration(getattr(self, key)).total_seconds()
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None
            if seconds <= 0:
                raise ValueError(f"{key}: expected a duration above 0, got {getattr(self, key)!r}")

    def broker_url(self) -> str | None:
        """The broker to send through, or None for in-process; a ``broker_env`` wins."""
        if self.broker_env:
            value = os.environ.get(self.broker_env, "").strip()
            if value:
                try:
                    check_broker(value, f"${self.broker_env}", echo=False)
                except ValueError as exc:
                    raise ConfigError(str(exc), subject="[workers] broker_env") from None
                return value
        return self.broker or None


_QUEUE = re.compile(r"[A-Za-z0-9_.-]{1,200}")
BROKER_SCHEMES = ("amqp", "amqps", "pyamqp")


def check_broker(url: str, where: str, echo: bool = True) -> None:
    """Refuse a broker URL that is not RabbitMQ's (AMQP); never echo one from the environment."""
    scheme, sep, rest = url.partition("://")
    shown = f", got {url!r}" if echo else " (the value is not shown)"
    if not sep or not rest:
        raise ValueError(f"{where}: expected a URL like 'amqp://host:5672/vhost'{shown}")
    if scheme not in BROKER_SCHEMES:
        raise ValueError(
            f"{where}: expected an amqp:// URL to RabbitMQ, got a {scheme}:// URL; Redis and "
            "SQS redeliver unacknowledged tasks after a visibility timeout, which could run a "
            "chunk twice while its first worker still sends it"
        )


def shown(url: str) -> str:
    """A broker URL fit for messages and logs: its password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}:***@{host}" if parts.username else f"***@{host}"
    return urlunsplit(parts._replace(netloc=netloc))
