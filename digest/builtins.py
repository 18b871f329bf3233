"""Registers digest's own sources and backends, the same way a plugin would."""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

from .errors import ConfigError

if TYPE_CHECKING:
    from .config import Settings
    from .delivery.base import DeliveryBackend


def _not_yet(name: str) -> object:
    def factory(settings: Settings) -> DeliveryBackend:
        raise ConfigError(
            f"the {name} backend is not available in this version",
            subject=f"{settings.path}: delivery.backend",
            hint='use backend = "outbox"',
        )

    return factory


def register(registry: ModuleType) -> None:
    """Register the built-in source types and delivery backends with ``registry``."""
    from .delivery.options import SendGridOptions, SMTPOptions
    from .delivery.outbox import OutboxOptions, make_outbox
    from .sources.directory import DirectoryOptions, make_directory_source

    registry.register_source_type(
        registry.SourceType("directory", DirectoryOptions, make_directory_source)
    )
    registry.register_backend(registry.BackendType("outbox", OutboxOptions, make_outbox))
    registry.register_backend(
        registry.BackendType("sendgrid", SendGridOptions, _not_yet("sendgrid"))
    )
    registry.register_backend(registry.BackendType("smtp", SMTPOptions, _not_yet("smtp")))
