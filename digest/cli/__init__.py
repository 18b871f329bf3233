"""The ``digest`` command line: a thin layer over the library; the only place that prints.

Each topic's commands live in their own module and attach themselves to ``main``.
"""

from . import commands, posts  # noqa: F401  (each module registers its commands)
from .app import main

__all__ = ["main"]
