"""The ``digest`` command line: a thin layer over the library; the only place that prints.

Each topic's commands live in their own module and attach themselves to ``main``.
"""

from . import (  # noqa: F401  (each module registers its commands)
    commands,
    db,
    delivery,
    posts,
    schedule,
    serve,
    sources,
    status,
    subscribers,
    suppressions,
    templates,
    workers,
)
from .app import main

__all__ = ["main"]
