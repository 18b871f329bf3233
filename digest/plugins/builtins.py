"""Registers digest's own sources and backends, the same way a plugin would."""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import Settings
    from ..delivery.base import DeliveryBackend


def _sendgrid(settings: Settings) -> DeliveryBackend:
    from ..delivery.sendgrid import make_sendgrid

    return make_sendgrid(settings)


def _smtp(settings: Settings) -> DeliveryBackend:
    from ..delivery.smtp import make_smtp

    return make_smtp(settings)


def register(registry: ModuleType) -> None:
    """Register the built-in source types and delivery backends with ``registry``."""
    from ..delivery.options import SendGridOptions, SMTPOptions
    from ..delivery.outbox import OutboxOptions, make_outbox
    from ..sources.directory.source import DirectoryOptions, make_directory_source
    from ..sources.feed.source import FeedOptions, make_feed_source

    registry.register_source_type(
        registry.SourceType("directory", DirectoryOptions, make_directory_source)
    )
    registry.register_source_type(registry.SourceType("feed", FeedOptions, make_feed_source))
    registry.register_backend(registry.BackendType("outbox", OutboxOptions, make_outbox))
    registry.register_backend(registry.BackendType("sendgrid", SendGridOptions, _sendgrid))
    registry.register_backend(registry.BackendType("smtp", SMTPOptions, _smtp))
