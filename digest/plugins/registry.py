"""The typed registry a plugin fills: the kinds of sources and delivery backends digest knows.

A plugin is a callable ``register(registry: Registry) -> None`` named by an entry point of the
``digest.plugins`` group; ``digest.plugins.load`` calls it with a ``Registry``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config.settings import BackendFactory, SourceFactory


@dataclass(frozen=True)
class SourceType:
    """A kind of source: its options dataclass and a factory for configured instances."""

    name: str
    options: type[Any]
    """The dataclass every key of its ``[[sources]]`` table besides name/type/enabled fills."""
    factory: SourceFactory


@dataclass(frozen=True)
class BackendType:
    """A delivery backend: its options dataclass (the ``[delivery.<name>]`` table) and factory."""

    name: str
    options: type[Any]
    factory: BackendFactory


class Registry:
    """The source types and delivery backends plugins have registered."""

    def __init__(self) -> None:
        self._sources: dict[str, SourceType] = {}
        self._backends: dict[str, BackendType] = {}

    def register_source_type(self, kind: SourceType) -> None:
        """Make a source type available to ``[[sources]] type = ...``."""
        self._sources[kind.name] = kind

    def register_backend(self, kind: BackendType) -> None:
        """Make a delivery backend available to ``[delivery] backend = ...``."""
        self._backends[kind.name] = kind

    def source_types(self) -> dict[str, SourceType]:
        return dict(self._sources)

    def delivery_backends(self) -> dict[str, BackendType]:
        return dict(self._backends)
