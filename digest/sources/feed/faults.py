"""A fault hook for the tests: make the process parsing a chosen feed die or hang.

``DIGEST_PARSE_FAULT="WHAT:SOURCE,..."`` acts when a parsing process (a pool process or a
Celery worker's) starts on source SOURCE: ``kill`` SIGKILLs it every time (a feed that
crashes its parser), ``hang`` never returns, ``kill-worker-once`` SIGKILLs the process and its
parent (a whole ``digest worker``) the first time only, marked in ``DIGEST_PARSE_FAULT_DIR``.
Only parsing in another process consults it. Unset in production, where it does nothing.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

FAULT_ENV = "DIGEST_PARSE_FAULT"
FAULT_DIR_ENV = "DIGEST_PARSE_FAULT_DIR"


def at_parse(source: str) -> None:
    """Fire the fault set for ``source``, if any."""
    spec = os.environ.get(FAULT_ENV, "")
    for what, _, name in (part.partition(":") for part in spec.split(",") if part):
        if name != source:
            continue
        if what == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif what == "hang":
            threading.Event().wait()
        elif what == "kill-worker-once" and _first(f"{what}@{name}"):
            os.kill(os.getppid(), signal.SIGKILL)
            os.kill(os.getpid(), signal.SIGKILL)


def fault_env() -> dict[str, str]:
    """This process's fault settings, for a process started from the forkserver (whose
    environment is the one it was started with, not this process's of now)."""
    return {k: os.environ[k] for k in (FAULT_ENV, FAULT_DIR_ENV) if k in os.environ}


def adopt(env: dict[str, str]) -> None:
    """In a new parsing process: take over the faults ``fault_env`` read in its parent."""
    for key in (FAULT_ENV, FAULT_DIR_ENV):
        os.environ.pop(key, None)
    os.environ.update(env)


def _first(marker: str) -> bool:
    folder = os.environ.get(FAULT_DIR_ENV)
    if not folder:
        raise ValueError(f"{FAULT_ENV}: kill-worker-once needs {FAULT_DIR_ENV}, a folder")
    try:
        os.close(os.open(Path(folder) / marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True
