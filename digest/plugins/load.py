"""Loading plugins: digest's built-ins, then every installed ``digest.plugins`` entry point.

Plugins load at one moment: the first time the process's registry is asked for, which is when
the configuration is first read (``digest.config.load.load_settings``); the CLI reads it before
any command runs. Nothing else loads or registers plugins.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from . import builtins
from .registry import Registry

GROUP = "digest.plugins"
"""The entry-point group whose targets are ``register(registry: Registry) -> None``."""


def load_registry() -> Registry:
    """A new registry holding the built-ins and every installed plugin."""
    registry = Registry()
    builtins.register(registry)
    for ep in entry_points(group=GROUP):
        if ep.dist is not None and ep.dist.name == "digest":
            continue  # the built-ins, registered above whatever module path old metadata names
        ep.load()(registry)
    return registry


@cache
def installed() -> Registry:
    """The process's registry: plugins are loaded on the first call, once."""
    return load_registry()
