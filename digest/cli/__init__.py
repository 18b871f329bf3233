"""The ``digest`` command line: a thin layer over the library; the only place that prints.

Each topic's commands live in their own module and attach themselves to ``main``.
"""

from . import commands  # noqa: F401  (registers the pipeline commands)
from .app import main

__all__ = ["main"]
