"""Registers digest's own sources and backends, the same way a plugin would."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..delivery.options import SendGridOptions, SMTPOptions
from ..delivery.outbox import OutboxOptions, make_outbox
from ..sources.directory.source import DirectoryOptions, make_directory_source
from ..sources.feed.source import FeedOptions, make_feed_source
from .registry import BackendType, Registry, SourceType

if TYPE_CHECKING:
    from ..config.settings import Settings
    from ..delivery.base import DeliveryBackend


def _sendgrid(settings: Settings) -> DeliveryBackend:
    from ..delivery.sendgrid import make_sendgrid  # imported on use: the library is not small

    return make_sendgrid(settings)


def _smtp(settings: Settings) -> DeliveryBackend:
    from ..delivery.smtp import make_smtp  # imported on use, like sendgrid

    return make_smtp(settings)


def register(registry: Registry) -> None:
    """Register the built-in source types and delivery backends with ``registry``."""
    registry.register_source_type(SourceType("directory", DirectoryOptions, make_directory_source))
    registry.register_source_type(SourceType("feed", FeedOptions, make_feed_source))
    registry.register_backend(BackendType("outbox", OutboxOptions, make_outbox))
    registry.register_backend(BackendType("sendgrid", SendGridOptions, _sendgrid))
    registry.register_backend(BackendType("smtp", SMTPOptions, _smtp))
