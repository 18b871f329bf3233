"""The ``digest`` command line: a thin layer over the library; the only place that prints.

Each topic's commands live in their own module and attach themselves to ``main``; that
module is imported when one of its commands runs (``app.COMMANDS``).
"""

from .app import main

__all__ = ["main"]
