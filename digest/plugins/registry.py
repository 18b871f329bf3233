"""Registries of the swappable parts: source types, delivery backends and summarizers.

Built-ins register exactly as a third party would: through the ``digest.plugins`` entry-point
group, whose targets are callables that receive this module and call its ``register_*``
functions.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import Settings, SourceSettings
    from ..delivery.base import DeliveryBackend
    from ..sources.base import Source


@dataclass(frozen=True)
class SourceType:
    """A kind of source: its options dataclass and a factory for configured instances."""

    name: str
    options: type[Any]
    factory: Callable[[SourceSettings, Settings], Source]


@dataclass(frozen=True)
class BackendType:
    """A delivery backend: its options dataclass and a factory."""

    name: str
    options: type[Any]
    factory: Callable[[Settings], DeliveryBackend]


_sources: dict[str, SourceType] = {}
_backends: dict[str, BackendType] = {}
_loaded = False


def register_source_type(kind: SourceType) -> None:
    """Make a source type available to ``[[sources]] type = ...``."""
    _sources[kind.name] = kind


def register_backend(kind: BackendType) -> None:
    """Make a delivery backend available to ``[delivery] backend = ...``."""
    _backends[kind.name] = kind


def load_plugins() -> None:
    """Register the built-ins, then every other installed ``digest.plugins`` entry point, once.

    digest's own entry point is skipped (the built-ins are registered directly), so an install
    whose metadata still names an older module path cannot break loading.
    """
    global _loaded
    if _loaded:
        return
    _loaded = True
    this = sys.modules[__name__]
    from . import builtins

    builtins.register(this)
    for ep in entry_points(group="digest.plugins"):
        if ep.dist is not None and ep.dist.name == "digest":
            continue
        ep.load()(this)


def source_types() -> dict[str, SourceType]:
    load_plugins()
    return dict(_sources)


def delivery_backends() -> dict[str, BackendType]:
    load_plugins()
    return dict(_backends)
