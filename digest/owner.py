"""Who this process is to a lease (a period's claim, a ledger chunk): ``host:pid:random``."""

from __future__ import annotations

import os
import secrets
import socket

_owner: tuple[int, str] | None = None


def owner_id() -> str:
    """This process as a lease owner; the random part makes a reused pid (or a fork) new.

    Only ever compared for equality: no decision looks at whether the pid is alive.
    """
    global _owner
    if _owner is None or _owner[0] != os.getpid():
        _owner = (os.getpid(), f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}")
    return _owner[1]
